package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

var (
	cveRE      = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	severities = map[string]bool{"low": true, "medium": true, "high": true, "critical": true}
)

func (c *Catalog) validate() error {
	if c.Schema != 1 {
		return fmt.Errorf("%s: schema %d is not supported (want 1)", c.file, c.Schema)
	}
	known := map[string]bool{}
	minorMax := map[string]string{}
	for i, r := range c.Releases {
		cv, err := version.Canonical(r.Version)
		if err != nil {
			return c.errAt("releases", i, "%v", err)
		}
		if known[cv] {
			return c.errAt("releases", i, "duplicate release %s", r.Version)
		}
		known[cv] = true
		if err := checkDate(r.Date, true); err != nil {
			return c.errAt("releases", i, "%s: %v", r.Version, err)
		}
		m := version.Minor(cv)
		if !version.IsPrerelease(cv) && (minorMax[m] == "" || version.Compare(cv, minorMax[m]) > 0) {
			minorMax[m] = cv
		}
	}
	isKnown := func(v string) bool {
		cv, err := version.Canonical(v)
		return err == nil && known[cv]
	}
	minors := map[string]bool{}
	for i, m := range c.Minors {
		if !version.IsMinor(m.Minor) {
			return c.errAt("minors", i, "minor %q is not MAJOR.MINOR", m.Minor)
		}
		minors[m.Minor] = true
		if err := checkDate(m.Released, false); err != nil {
			return c.errAt("minors", i, "released: %v", err)
		}
		if err := checkDate(m.EOL, true); err != nil {
			return c.errAt("minors", i, "eol: %v", err)
		}
		if !isKnown(m.Latest) || version.Minor(m.Latest) != m.Minor {
			return c.errAt("minors", i, "latest %q is not a known %s release", m.Latest, m.Minor)
		}
		if version.Compare(m.Latest, minorMax[m.Minor]) != 0 {
			return c.errAt("minors", i, "latest is %s but the newest %s release listed is %s", m.Latest, m.Minor, version.Plain(minorMax[m.Minor]))
		}
		if m.ProductionMinimum != "" && !isKnown(m.ProductionMinimum) {
			return c.errAt("minors", i, "productionMinimum %q is not a known release", m.ProductionMinimum)
		}
	}
	for m := range minorMax {
		if !minors[m] {
			return fmt.Errorf("%s: releases of %s are listed but minor %s is not", c.file, m, m)
		}
	}
	for i, h := range c.Hops {
		if !minors[h.From] || !minors[h.To] || version.NextMinor(h.From) != h.To {
			return c.errAt("hops", i, "hop %s -> %s must join two listed, consecutive minors", h.From, h.To)
		}
		if !isKnown(h.Minimum) || version.Minor(h.Minimum) != h.From {
			return c.errAt("hops", i, "minimum %q is not a known %s release", h.Minimum, h.From)
		}
		if from, ok := c.Minor(h.From); ok && version.Compare(h.Minimum, from.Latest) > 0 {
			return c.errAt("hops", i, "minimum %s is newer than the latest %s release %s", h.Minimum, h.From, from.Latest)
		}
		if h.Reason == "" || !strings.HasPrefix(h.Link, "https://") {
			return c.errAt("hops", i, "a hop needs a reason and an https link")
		}
	}
	ids := map[string]bool{}
	for i, is := range c.Issues {
		if is.ID == "" || ids[is.ID] {
			return c.errAt("issues", i, "missing or duplicate id %q", is.ID)
		}
		ids[is.ID] = true
		if err := c.checkEntry(is.Title, is.Severity, is.Link, is.Affected, isKnown, minors); err != nil {
			return c.errAt("issues", i, "%s: %v", is.ID, err)
		}
		if err := checkWords("affects", is.Affects, parts); err != nil {
			return c.errAt("issues", i, "%s: %v", is.ID, err)
		}
		if err := checkWords("ops", is.Ops, ops); err != nil {
			return c.errAt("issues", i, "%s: %v", is.ID, err)
		}
	}
	for i, cv := range c.CVEs {
		if !cveRE.MatchString(cv.ID) || ids[cv.ID] {
			return c.errAt("cves", i, "id %q is not CVE-YYYY-NNNN or is a duplicate", cv.ID)
		}
		ids[cv.ID] = true
		if err := c.checkEntry(cv.Title, cv.Severity, cv.Link, cv.Affected, isKnown, minors); err != nil {
			return c.errAt("cves", i, "%s: %v", cv.ID, err)
		}
		if err := checkWords("affects", cv.Affects, parts); err != nil {
			return c.errAt("cves", i, "%s: %v", cv.ID, err)
		}
	}
	newest := ""
	for m := range minors {
		if newest == "" || version.Compare(m+".0", newest+".0") > 0 {
			newest = m
		}
	}
	for i, f := range c.Flags {
		if !strings.HasPrefix(f.Flag, "--") {
			return c.errAt("flags", i, "flag %q must start with --", f.Flag)
		}
		switch {
		case f.RemovedIn == "" && f.AddedIn == "":
			return c.errAt("flags", i, "%s: give removedIn (the minor that no longer accepts it) or addedIn (the minor that introduced it)", f.Flag)
		case f.RemovedIn != "" && !minors[f.RemovedIn] && !(version.IsMinor(f.RemovedIn) && version.Compare(f.RemovedIn+".0", newest+".0") > 0):
			return c.errAt("flags", i, "%s: removedIn %q is neither a listed minor nor a planned one after %s", f.Flag, f.RemovedIn, newest)
		case f.AddedIn != "" && !minors[f.AddedIn]:
			return c.errAt("flags", i, "%s: addedIn %q is not a listed minor", f.Flag, f.AddedIn)
		}
		if f.DeprecatedIn != "" && (!minors[f.DeprecatedIn] || (f.RemovedIn != "" && version.Compare(f.DeprecatedIn+".0", f.RemovedIn+".0") > 0)) {
			return c.errAt("flags", i, "%s: deprecatedIn %q must be a listed minor not after removedIn", f.Flag, f.DeprecatedIn)
		}
	}
	for i, k := range c.Kubernetes.Kubeadm {
		if !version.IsMinor(k.Kubernetes) {
			return c.errAt("kubernetes.kubeadm", i, "kubernetes %q is not MAJOR.MINOR", k.Kubernetes)
		}
		for _, tag := range []string{k.Etcd, k.MinExternal} {
			if !isKnown(ImageVersion(tag)) {
				return c.errAt("kubernetes.kubeadm", i, "etcd image tag %q is not a known release", tag)
			}
		}
	}
	for i, k := range c.Kubernetes.Kops {
		if (k.Below != "" && !version.IsMinor(k.Below)) || !isKnown(k.Etcd) {
			return c.errAt("kubernetes.kops", i, "want below: MAJOR.MINOR and a known etcd release")
		}
	}
	return nil
}

func (c *Catalog) checkEntry(title, severity, link string, affected []Range, isKnown func(string) bool, minors map[string]bool) error {
	if title == "" {
		return fmt.Errorf("title is empty")
	}
	if !severities[severity] {
		return fmt.Errorf("severity %q: use low, medium, high or critical", severity)
	}
	if !strings.HasPrefix(link, "https://") {
		return fmt.Errorf("link %q must be an https URL", link)
	}
	if len(affected) == 0 {
		return fmt.Errorf("no affected range")
	}
	for _, r := range affected {
		if !minors[r.Minor] {
			return fmt.Errorf("affected minor %q is not listed", r.Minor)
		}
		for _, v := range []string{r.Introduced, r.Fixed} {
			if v != "" && (!isKnown(v) || version.Minor(v) != r.Minor) {
				return fmt.Errorf("version %q is not a known %s release", v, r.Minor)
			}
		}
		if r.Introduced != "" && r.Fixed != "" && version.Compare(r.Introduced, r.Fixed) >= 0 {
			return fmt.Errorf("introduced %s is not before fixed %s", r.Introduced, r.Fixed)
		}
	}
	return nil
}

var (
	parts = map[string]bool{PartServer: true, PartClient: true, PartEtcdctl: true, PartEtcdutl: true, PartBuild: true}
	ops   = map[string]bool{OpMemberAdd: true, OpMemberUpdate: true, OpForceNewCluster: true, OpDowngrade: true, OpDefrag: true, OpUpgrade: true}
)

func checkWords(field string, words []string, allowed map[string]bool) error {
	for _, w := range words {
		if !allowed[w] {
			var names []string
			for k := range allowed {
				names = append(names, k)
			}
			sort.Strings(names)
			return fmt.Errorf("%s: %q is not one of %s", field, w, strings.Join(names, ", "))
		}
	}
	return nil
}

func checkDate(s string, optional bool) error {
	if s == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("date missing")
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return nil
}

// ImageVersion returns the etcd version of an image tag ("3.5.21-0" -> "3.5.21").
func ImageVersion(tag string) string {
	tag = strings.TrimPrefix(tag, "v")
	if i := strings.LastIndex(tag, "-"); i > 0 && isDigits(tag[i+1:]) {
		return tag[:i]
	}
	return tag
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
