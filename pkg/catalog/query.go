package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Versions lists every release, oldest first, without the "v".
func (c *Catalog) Versions() []string {
	out := make([]string, 0, len(c.Releases))
	for _, r := range c.Releases {
		out = append(out, version.Plain(version.MustCanonical(r.Version)))
	}
	return out
}

// Known reports whether v is a listed release.
func (c *Catalog) Known(v string) bool {
	cv, err := version.Canonical(v)
	if err != nil {
		return false
	}
	for _, r := range c.Releases {
		if version.Compare(r.Version, cv) == 0 {
			return true
		}
	}
	return false
}

// NotListed reports whether v is on a minor the catalog covers but is not
// one of its releases (kops tests a custom image as 3.6.99). A release
// newer than the catalog also reads as not listed: refresh the catalog.
func (c *Catalog) NotListed(v string) bool {
	_, covered := c.Minor(version.Minor(v))
	return covered && !c.Known(v)
}

// Release returns the release entry of v.
func (c *Catalog) Release(v string) (Release, bool) {
	for _, r := range c.Releases {
		if version.Compare(r.Version, v) == 0 {
			return r, true
		}
	}
	return Release{}, false
}

// Minor returns the entry of a minor ("3.6").
func (c *Catalog) Minor(minor string) (*Minor, bool) {
	for i := range c.Minors {
		if c.Minors[i].Minor == minor {
			return &c.Minors[i], true
		}
	}
	return nil, false
}

// Latest returns the newest release overall (pre-releases excluded).
func (c *Catalog) Latest() string {
	var best string
	for _, m := range c.Minors {
		if m.Latest != "" && (best == "" || version.Compare(m.Latest, best) > 0) {
			best = m.Latest
		}
	}
	return best
}

// LatestPatch returns the newest release of v's minor, or "".
func (c *Catalog) LatestPatch(v string) string {
	if m, ok := c.Minor(version.Minor(v)); ok {
		return m.Latest
	}
	return ""
}

// Resolve turns a target ("latest", "3.6", "3.6.16") into a release. An
// unknown version is an error naming the known versions near it.
func (c *Catalog) Resolve(target string) (string, error) {
	t := strings.TrimPrefix(strings.TrimSpace(target), "v")
	switch {
	case t == "latest":
		return c.Latest(), nil
	case version.IsMinor(t):
		m, ok := c.Minor(t)
		if !ok {
			var ms []string
			for _, m := range c.Minors {
				ms = append(ms, m.Minor)
			}
			return "", fmt.Errorf("etcd %s is not a known minor (known: %s)", t, strings.Join(ms, ", "))
		}
		if m.Latest == "" {
			return "", fmt.Errorf("etcd %s has no release yet, only pre-releases (%s): name one", t, strings.Join(c.prereleases(t), ", "))
		}
		return m.Latest, nil
	}
	if _, err := version.Canonical(t); err != nil {
		return "", fmt.Errorf("%v; known versions near it: %s", err, strings.Join(c.Nearest(t, 5), ", "))
	}
	if !c.Known(t) {
		return "", fmt.Errorf("etcd %s is not a known release; nearest known versions: %s", t, strings.Join(c.Nearest(t, 5), ", "))
	}
	return t, nil
}

func (c *Catalog) prereleases(minor string) []string {
	var out []string
	for _, v := range c.Versions() {
		if version.Minor(v) == minor && version.IsPrerelease(v) {
			out = append(out, v)
		}
	}
	return out
}

// Nearest returns up to n known versions close to v.
func (c *Catalog) Nearest(v string, n int) []string {
	target := strings.TrimPrefix(strings.TrimSpace(v), "v")
	var maj, min, patch int
	fmt.Sscanf(target, "%d.%d.%d", &maj, &min, &patch)
	vs := c.Versions()
	sort.SliceStable(vs, func(i, j int) bool { return dist(vs[i], maj, min, patch) < dist(vs[j], maj, min, patch) })
	if len(vs) > n {
		vs = vs[:n]
	}
	sort.Slice(vs, func(i, j int) bool { return version.Compare(vs[i], vs[j]) < 0 })
	return vs
}

func dist(v string, maj, min, patch int) int {
	var a, b, p int
	fmt.Sscanf(v, "%d.%d.%d", &a, &b, &p)
	d := iabs(b-min)*1000 + iabs(p-patch)
	if a != maj {
		d += 1000000
	}
	return d
}

func iabs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// HopInto returns the rule for upgrading into minor to.
func (c *Catalog) HopInto(to string) (*Hop, bool) {
	for i := range c.Hops {
		if c.Hops[i].To == to {
			return &c.Hops[i], true
		}
	}
	return nil, false
}

// Affects reports whether a range list covers version v. A pre-release
// is judged as the release it precedes: it carries that release's
// advisories.
func Affects(ranges []Range, v string) bool {
	v = version.Core(v)
	for _, r := range ranges {
		if version.Minor(v) != r.Minor {
			continue
		}
		intro := r.Introduced
		if intro == "" {
			intro = r.Minor + ".0"
		}
		if version.Compare(v, intro) < 0 {
			continue
		}
		if r.Fixed == "" || version.Compare(v, r.Fixed) < 0 {
			return true
		}
	}
	return false
}

// FixedIn returns the fixed version of a range list in v's minor, or "".
func FixedIn(ranges []Range, v string) string {
	for _, r := range ranges {
		if r.Minor == version.Minor(v) {
			return r.Fixed
		}
	}
	return ""
}

// IssuesAffecting lists the known issues that affect v.
func (c *Catalog) IssuesAffecting(v string) []Issue {
	var out []Issue
	for _, is := range c.Issues {
		if Affects(is.Affected, v) {
			out = append(out, is)
		}
	}
	return out
}

// CVEsAffecting lists the CVEs that affect v.
func (c *Catalog) CVEsAffecting(v string) []CVE {
	var out []CVE
	for _, cv := range c.CVEs {
		if Affects(cv.Affected, v) {
			out = append(out, cv)
		}
	}
	return out
}

// FlagsRemovedUpTo returns the flags removed by a minor after from and up
// to and including to.
func (c *Catalog) FlagsRemovedUpTo(from, to string) []Flag {
	var out []Flag
	for _, f := range c.Flags {
		if version.Compare(f.RemovedIn+".0", from+".0") > 0 && version.Compare(f.RemovedIn+".0", to+".0") <= 0 {
			out = append(out, f)
		}
	}
	return out
}

// FlagsAddedAbove returns the flags introduced by a minor after to and up
// to and including from: a member taken down from from to to must drop
// them.
func (c *Catalog) FlagsAddedAbove(to, from string) []Flag {
	var out []Flag
	for _, f := range c.Flags {
		if f.AddedIn != "" && version.Compare(f.AddedIn+".0", to+".0") > 0 && version.Compare(f.AddedIn+".0", from+".0") <= 0 {
			out = append(out, f)
		}
	}
	return out
}

// FlagsDeprecatedIn returns the flags deprecated (still accepted) in minor.
func (c *Catalog) FlagsDeprecatedIn(minor string) []Flag {
	var out []Flag
	for _, f := range c.Flags {
		if f.DeprecatedIn != "" && version.Compare(f.DeprecatedIn+".0", minor+".0") <= 0 && version.Compare(f.RemovedIn+".0", minor+".0") > 0 {
			out = append(out, f)
		}
	}
	return out
}

// Kubeadm returns kubeadm's entry for a Kubernetes minor.
func (c *Catalog) Kubeadm(k8s string) (*KubeadmEntry, bool) {
	for i := range c.Kubernetes.Kubeadm {
		if c.Kubernetes.Kubeadm[i].Kubernetes == strings.TrimPrefix(k8s, "v") {
			return &c.Kubernetes.Kubeadm[i], true
		}
	}
	return nil, false
}

// Kops returns kops' default etcd for a Kubernetes minor.
func (c *Catalog) Kops(k8s string) string {
	k := strings.TrimPrefix(k8s, "v") + ".0"
	for _, e := range c.Kubernetes.Kops {
		if e.Below == "" || version.Compare(k, e.Below+".0") < 0 {
			return e.Etcd
		}
	}
	return ""
}

// ReleaseInfo is what the catalog tells about one release.
type ReleaseInfo struct {
	Version string `json:"version"`
	Date    string `json:"date,omitempty"`
	// NotesUnknown: published after the notes, reviewed NotesReviewed.
	NotesUnknown  bool    `json:"notesUnknown,omitempty"`
	NotesReviewed string  `json:"notesReviewed"`
	Minor         *Minor  `json:"minor"`
	LatestPatch   string  `json:"latestPatch"`
	NextHop       *Hop    `json:"nextHop,omitempty"`
	Issues        []Issue `json:"issues"`
	CVEs          []CVE   `json:"cves"`
}

// Info describes a release (a version, a minor or "latest").
func (c *Catalog) Info(target string) (*ReleaseInfo, error) {
	v, err := c.Resolve(target)
	if err != nil {
		return nil, err
	}
	r, _ := c.Release(v)
	mi, ok := c.Minor(version.Minor(v))
	if !ok {
		return nil, fmt.Errorf("the catalog has no minor %s", version.Minor(v))
	}
	info := &ReleaseInfo{Version: v, Date: r.Date, NotesUnknown: r.NotesUnknown, NotesReviewed: c.Updated, Minor: mi, LatestPatch: mi.Latest, Issues: c.IssuesAffecting(v), CVEs: c.CVEsAffecting(v)}
	if h, ok := c.HopInto(version.NextMinor(mi.Minor)); ok {
		info.NextHop = h
	}
	return info, nil
}
