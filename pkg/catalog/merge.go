package catalog

import (
	"fmt"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Freshness says where the catalog's knowledge comes from and how old it
// is: the data compiled in (reviewed up to Updated), and the module
// proxy's release list when one was read.
type Freshness struct {
	// Updated is the date the compiled-in notes were last reviewed.
	Updated string `json:"updated"`
	// Proxy and Fetched name the module proxy's list merged in, if any.
	Proxy   string    `json:"proxy,omitempty"`
	Fetched time.Time `json:"fetched,omitempty"`
	// Offline is set when the proxy was not asked (--offline).
	Offline bool `json:"offline,omitempty"`
	// Warning says why the proxy's list is missing or old.
	Warning string `json:"warning,omitempty"`
	// New lists the releases the proxy knows and the notes do not.
	New []string `json:"newReleases,omitempty"`
}

// Age is how old the newest knowledge is at now.
func (f Freshness) Age(now time.Time) time.Duration {
	if !f.Fetched.IsZero() {
		return now.Sub(f.Fetched)
	}
	if t, err := time.Parse(time.DateOnly, f.Updated); err == nil {
		return now.Sub(t)
	}
	return 0
}

// Describe is one line for people.
func (f Freshness) Describe(now time.Time) string {
	s := fmt.Sprintf("release notes compiled in, reviewed %s (%s old)", f.Updated, days(now.Sub(mustDate(f.Updated))))
	switch {
	case !f.Fetched.IsZero():
		s += fmt.Sprintf("; release list from %s, read %s (%s ago)", f.Proxy, f.Fetched.Format("2006-01-02 15:04 MST"), ago(now.Sub(f.Fetched)))
		if f.Offline {
			s += ", not refreshed (--offline)"
		}
	case f.Offline:
		s += "; the module proxy was not asked (--offline)"
	}
	if len(f.New) > 0 {
		s += fmt.Sprintf("; %d release(s) without notes: %v", len(f.New), f.New)
	}
	return s
}

func mustDate(s string) time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return t
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "moments"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return days(d)
}

// ChangelogLink is where etcd publishes the notes of a minor's releases.
func ChangelogLink(minor string) string {
	return "https://github.com/etcd-io/etcd/blob/main/CHANGELOG/CHANGELOG-" + minor + ".md"
}

// WithFeed returns a copy of the catalog that also knows the releases the
// module proxy published: dates filled in where the notes have none, new
// releases (pre-releases too) added without notes, and each minor's
// latest moved to the newest final release. A minor the notes do not
// cover is added with no rules.
func (c *Catalog) WithFeed(f *Feed) *Catalog {
	out := *c
	out.Releases = append([]Release(nil), c.Releases...)
	out.Minors = append([]Minor(nil), c.Minors...)
	out.Fresh.Updated = c.Updated
	if f == nil {
		return &out
	}
	out.Fresh.Proxy, out.Fresh.Fetched = f.Proxy, f.Fetched
	index := map[string]int{}
	for i, r := range out.Releases {
		index[version.Plain(version.MustCanonical(r.Version))] = i
	}
	for _, p := range f.Releases {
		date := ""
		if !p.Time.IsZero() {
			date = p.Time.UTC().Format(time.DateOnly)
		}
		if i, ok := index[p.Version]; ok {
			if out.Releases[i].Date == "" {
				out.Releases[i].Date = date
			}
			continue
		}
		// A pre-release of a release the notes know carries its notes.
		_, coreKnown := index[version.Core(p.Version)]
		unknown := !(version.IsPrerelease(p.Version) && coreKnown)
		out.Releases = append(out.Releases, Release{Version: p.Version, Date: date, NotesUnknown: unknown})
		index[p.Version] = len(out.Releases) - 1
		if unknown {
			out.Fresh.New = append(out.Fresh.New, p.Version)
		}
		m := version.Minor(p.Version)
		mi, ok := out.Minor(m)
		if !ok {
			out.Minors = append(out.Minors, Minor{Minor: m, Link: "https://etcd.io/docs/", Unknown: true,
				Note: "published on the module proxy after this etcdpilot's notes: no upgrade rules for it"})
			mi = &out.Minors[len(out.Minors)-1]
		}
		if version.IsPrerelease(p.Version) {
			continue
		}
		if mi.Latest == "" || version.Compare(p.Version, mi.Latest) > 0 {
			mi.Latest = p.Version
		}
		if mi.Released == "" || (date != "" && date < mi.Released) {
			mi.Released = date
		}
	}
	sort.SliceStable(out.Releases, func(i, j int) bool {
		return version.Compare(out.Releases[i].Version, out.Releases[j].Version) < 0
	})
	sort.SliceStable(out.Minors, func(i, j int) bool {
		return version.Compare(out.Minors[i].Minor+".0", out.Minors[j].Minor+".0") < 0
	})
	sort.Slice(out.Fresh.New, func(i, j int) bool { return version.Compare(out.Fresh.New[i], out.Fresh.New[j]) < 0 })
	return &out
}

// Outdated is a version in use that has a newer patch of its minor.
type Outdated struct {
	Version string `json:"version"`
	Latest  string `json:"latest"`
	// Where it is in use ("etcd binary cache").
	Where string `json:"where"`
}

// NewerPatches lists the versions of uses (version -> where) that are not
// the newest patch of their minor, oldest first.
func (c *Catalog) NewerPatches(uses map[string]string) []Outdated {
	var out []Outdated
	for v, where := range uses {
		if latest := c.LatestPatch(v); latest != "" && version.Compare(v, latest) < 0 {
			out = append(out, Outdated{Version: v, Latest: latest, Where: where})
		}
	}
	sort.Slice(out, func(i, j int) bool { return version.Compare(out[i].Version, out[j].Version) < 0 })
	return out
}
