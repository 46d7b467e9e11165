package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// DefaultQuota is etcd's default --quota-backend-bytes (2 GiB).
const DefaultQuota = 2 << 30

const (
	healthLink  = "https://etcd.io/docs/v3.6/op-guide/maintenance/"
	learnerLink = "https://etcd.io/docs/v3.6/learning/design-learner/"
	quotaLink   = "https://etcd.io/docs/v3.6/op-guide/maintenance/#space-quota"
	v2Link      = "https://etcd.io/docs/v3.6/upgrades/upgrade_3_6/"
)

// clusterBlockers looks at the live state: reachability, quorum, alarms,
// learners, database size, v2 store use.
func (pl *planner) clusterBlockers() {
	cl := pl.cl
	for _, m := range cl.Members {
		if cl.Live && !m.Reachable {
			pl.block(Finding{Code: "unreachable", Member: m.Name, Message: fmt.Sprintf("%s does not answer: %s", m.Name, m.Error),
				Reason: "every member must be healthy before a rolling change; a restart while a member is down can lose quorum", Link: healthLink})
		}
		if m.IsLearner {
			pl.block(Finding{Code: "learner-present", Member: m.Name, Message: fmt.Sprintf("%s is a learner", m.Name),
				Reason: "promote (etcdpilot member promote) or remove learners before upgrading; membership changes during an upgrade hit known bugs (too many learner members, learner promotion on 3.6.0-3.6.3)", Link: learnerLink})
		}
		quota, known := pl.quota(m.Name)
		switch {
		case m.DBSize > quota && !known && cl.Live:
			// A member over its quota raises NOSPACE (an alarm blocks
			// below); without one, its quota is not etcd's default.
			pl.warn(Finding{Code: "db-over-default-quota", Member: m.Name, Message: fmt.Sprintf("%s's database is %s, over etcd's default quota of %s, and no NOSPACE alarm is raised: its --quota-backend-bytes is larger, and unknown here", m.Name, progress.Bytes(m.DBSize), progress.Bytes(quota)),
				Reason: "give the member's configuration (--member-config, or --sandbox/--kubeadm) to check the database against its real quota", Link: quotaLink})
		case m.DBSize > quota:
			pl.block(Finding{Code: "db-over-quota", Member: m.Name, Message: fmt.Sprintf("%s's database is %s, over its quota of %s", m.Name, progress.Bytes(m.DBSize), progress.Bytes(quota)),
				Reason: "compact and defragment first; a member over quota raises NOSPACE and refuses writes", Link: quotaLink})
		case m.DBSize > quota*8/10:
			pl.warn(Finding{Code: "db-near-quota", Member: m.Name, Message: fmt.Sprintf("%s's database is %s, %d%% of its quota", m.Name, progress.Bytes(m.DBSize), m.DBSize*100/quota),
				Reason: "defragment before upgrading; a restart of a large database is slow", Link: quotaLink})
		}
	}
	switch cl.Health {
	case "unavailable":
		pl.block(Finding{Code: "no-quorum", Message: "the cluster has no quorum or no leader: " + strings.Join(cl.HealthReasons, "; "),
			Reason: "nothing can be changed safely until quorum is back", Link: healthLink})
	case "degraded":
		var other []string
		for _, r := range cl.HealthReasons {
			if !strings.Contains(r, "unreachable") {
				other = append(other, r)
			}
		}
		if len(other) > 0 {
			pl.block(Finding{Code: "unhealthy", Message: "the cluster is degraded: " + strings.Join(other, "; "),
				Reason: "fix the cluster before changing it", Link: healthLink})
		}
	}
	for _, a := range cl.Alarms {
		pl.block(Finding{Code: "alarm", Message: "alarm raised: " + a.String(),
			Reason: "clear the cause (NOSPACE: compact and defragment; CORRUPT: find the corrupt member) and disarm the alarm first", Link: healthLink})
	}
	if pl.p.Direction == "upgrade" && crosses(pl.low, pl.p.Target, "3.6") {
		for _, m := range cl.Members {
			if m.V2Enabled || pl.configTrue(m.Name, "enable-v2") {
				pl.block(Finding{Code: "v2-store", Member: m.Name, Message: fmt.Sprintf("%s serves the v2 API (--enable-v2 or ETCD_ENABLE_V2)", m.Name),
					Reason: "3.6 drops the v2 store: migrate v2 data you need, remove --enable-v2 and ETCD_ENABLE_V2, then run `etcdutl check v2store`; if it reports custom data, restart those members once with --snapshot-count=1, then restore the original value", Link: v2Link})
			}
		}
	}
}

// crosses reports whether going from a to b enters minor m from below.
func crosses(a, b, m string) bool {
	return version.Compare(version.Minor(a)+".0", m+".0") < 0 && version.Compare(version.Minor(b)+".0", m+".0") >= 0
}

// configFor returns the configuration given for a member, matched by --name,
// or the only configuration when there is exactly one member.
func (pl *planner) configFor(name string) *memberconfig.Config {
	for _, c := range pl.opts.Configs {
		if c.Name() == name {
			return c
		}
	}
	if len(pl.opts.Configs) == 1 && len(pl.cl.Members) == 1 {
		return pl.opts.Configs[0]
	}
	return nil
}

func (pl *planner) configTrue(member, flag string) bool {
	c := pl.configFor(member)
	if c == nil {
		return false
	}
	v, ok := c.Flags[flag]
	return ok && (v.Value == "true" || v.Value == "")
}

func (pl *planner) quota(member string) (n int64, known bool) {
	c := pl.configFor(member)
	if c == nil {
		return DefaultQuota, false
	}
	if s, ok := c.Flags["quota-backend-bytes"]; ok {
		if n, err := strconv.ParseInt(s.Value, 10, 64); err == nil && n > 0 {
			return n, true
		}
	}
	return DefaultQuota, true // configured without the flag: the default
}

// memberVersion is the version of the member a configuration belongs to.
func (pl *planner) memberVersion(c *memberconfig.Config) (string, string) {
	for _, m := range pl.cl.Members {
		if m.Name == c.Name() && m.Version != "" {
			return m.Name, m.Version
		}
	}
	name := c.Name()
	if name == "" {
		name = c.File
	}
	return name, pl.low
}

// configFileOverrides says which configured flags a member's etcd ignores
// because it reads a config file: what the plan judges is the file.
func (pl *planner) configFileOverrides() {
	for _, c := range pl.opts.Configs {
		if c.ConfigFile == "" || len(c.Ignored) == 0 {
			continue
		}
		member, _ := pl.memberVersion(c)
		pl.warn(Finding{Code: "config-file-overrides", Member: member,
			Message: fmt.Sprintf("%s: etcd reads its settings from --config-file %s and ignores --%s", c.Where(c.Flags["config-file"]), c.ConfigFile, strings.Join(c.IgnoredNames(), ", --")),
			Reason:  "etcd's configuration guide: if a configuration file is provided, other command line flags and environment variables are ignored; the plan judges the file's keys",
			Link:    "https://etcd.io/docs/v3.6/op-guide/configuration/"})
	}
}

// configFindings checks every configured flag against the minors the path
// enters: a command-line flag the target no longer accepts stops etcd at
// start; a config-file key it no longer reads is ignored, so the setting
// is silently off. A downgrade checks the flags the lower minor does not
// have yet.
func (pl *planner) configFindings() {
	pl.configFileOverrides()
	if pl.p.Direction == "downgrade" {
		pl.downgradeFlags()
		return
	}
	if pl.p.Direction != "upgrade" {
		return
	}
	tMinor := version.Minor(pl.p.Target)
	for _, c := range pl.opts.Configs {
		member, v := pl.memberVersion(c)
		for _, f := range pl.cat.FlagsRemovedUpTo(version.Minor(v), tMinor) {
			s, key, ok := setting(c, f)
			if !ok {
				continue
			}
			if s.From == "config-file" {
				pl.warn(Finding{Code: "config-key-ignored", Member: member,
					Message: fmt.Sprintf("%s: the config-file key %s is not read by %s (etcd %s removed it): etcd ignores unknown keys in a config file, so the setting is silently off", c.Where(s), key, tMinor, f.RemovedIn),
					Reason:  "etcd starts, without the setting" + replacementKey(f) + noteOf(f), Link: f.Link, Flag: f.Flag})
				continue
			}
			if s.From == "env" {
				pl.warn(envIgnored(c, s, f, member, fmt.Sprintf("%s no longer reads it (etcd %s removed %s)", tMinor, f.RemovedIn, f.Flag), replacementEnv(f, s.Value)))
				continue
			}
			msg := fmt.Sprintf("%s: %s (set by %s) is not accepted by %s: etcd %s removed it", c.Where(s), f.Flag, s.From, tMinor, f.RemovedIn)
			reason := "etcd exits at start with \"flag provided but not defined\""
			if f.Replacement != "" {
				reason += "; use " + replacementFor(f, s.Value) + " instead"
				if f.DeprecatedIn != "" {
					reason += fmt.Sprintf(" (accepted since %s)", f.DeprecatedIn)
				}
			}
			pl.block(Finding{Code: "flag-removed", Member: member, Message: msg, Reason: reason + noteOf(f), Link: f.Link, Flag: f.Flag, Replacement: f.Replacement})
		}
		for _, f := range pl.cat.FlagsDeprecatedIn(tMinor) {
			s, _, ok := setting(c, f)
			if !ok {
				continue
			}
			pl.warn(Finding{Code: "flag-deprecated", Member: member,
				Message: fmt.Sprintf("%s: %s is deprecated in %s and removed in %s", c.Where(s), f.Flag, f.DeprecatedIn, f.RemovedIn),
				Reason:  "switch to " + orNone(f.Replacement) + " while both are accepted" + noteOf(f), Link: f.Link})
		}
	}
}

// downgradeFlags: a member restarted on a lower minor with a flag that
// minor does not have yet exits at start; a config-file key it does not
// know is ignored.
func (pl *planner) downgradeFlags() {
	tMinor := version.Minor(pl.p.Target)
	for _, c := range pl.opts.Configs {
		member, v := pl.memberVersion(c)
		for _, f := range pl.cat.FlagsAddedAbove(tMinor, version.Minor(v)) {
			s, key, ok := setting(c, f)
			if !ok {
				continue
			}
			instead := "drop it"
			if f.Older != "" {
				instead = "use " + f.Older + " instead"
			}
			if s.From == "config-file" {
				pl.warn(Finding{Code: "config-key-ignored", Member: member,
					Message: fmt.Sprintf("%s: the config-file key %s is new in %s: %s ignores it, so the setting is silently off", c.Where(s), key, f.AddedIn, tMinor),
					Reason:  instead + noteOf(f), Link: f.Link, Flag: f.Flag})
				continue
			}
			if s.From == "env" {
				pl.warn(envIgnored(c, s, f, member, fmt.Sprintf("%s is new in %s: %s does not read it", f.Flag, f.AddedIn, tMinor), "; "+instead))
				continue
			}
			pl.block(Finding{Code: "flag-too-new", Member: member,
				Message: fmt.Sprintf("%s: %s (set by %s) is new in %s: etcd %s exits at start with \"flag provided but not defined\"", c.Where(s), f.Flag, s.From, f.AddedIn, tMinor),
				Reason:  instead + " before the member is restarted on " + tMinor + noteOf(f), Link: f.Link, Flag: f.Flag})
		}
	}
}

// envIgnored is the finding for an ETCD_* variable naming a flag the
// target minor does not have: etcd's flag parser only warns
// "unrecognized environment variable" (pkg/flags verifyEnv) and starts,
// so the setting is silently off. Measured on 3.6.17 with ETCD_ENABLE_V2
// and ETCD_PROXY, and on 3.7.3 with an ETCD_EXPERIMENTAL_* variable.
func envIgnored(c *memberconfig.Config, s memberconfig.Setting, f catalog.Flag, member, why, instead string) Finding {
	return Finding{Code: "env-ignored", Member: member,
		Message: fmt.Sprintf("%s: the environment variable %s is ignored: %s", c.Where(s), envName(f.Flag), why),
		Reason:  "etcd logs \"unrecognized environment variable\" and starts without the setting" + instead + noteOf(f), Link: f.Link, Flag: f.Flag}
}

// setting finds a catalog flag in a configuration, by its flag name or
// its config-file key.
func setting(c *memberconfig.Config, f catalog.Flag) (memberconfig.Setting, string, bool) {
	name := strings.TrimPrefix(f.Flag, "--")
	if s, ok := c.Flags[name]; ok {
		return s, name, true
	}
	if f.ConfigKey != "" {
		if s, ok := c.Flags[f.ConfigKey]; ok && s.From == "config-file" {
			return s, f.ConfigKey, true
		}
	}
	return memberconfig.Setting{}, "", false
}

// replacementFor is the replacement of a flag set to value: a feature
// gate takes the flag's boolean ("--feature-gates=InitialCorruptCheck=true").
func replacementFor(f catalog.Flag, value string) string {
	if strings.HasPrefix(f.Replacement, "--feature-gates=") && !strings.Contains(strings.TrimPrefix(f.Replacement, "--feature-gates="), "=") {
		if value != "false" {
			value = "true"
		}
		return f.Replacement + "=" + value
	}
	return f.Replacement
}

// replacementKey names the config-file form of a flag's replacement.
func replacementKey(f catalog.Flag) string {
	r := strings.TrimPrefix(replacementFor(f, "true"), "--")
	if k, v, ok := strings.Cut(r, "="); ok {
		return fmt.Sprintf("; put it back as the key %s with the value %s", k, v)
	}
	if r != "" {
		return "; put it back as the key " + r
	}
	return ""
}

// replacementEnv says how to set a removed flag's replacement through
// the environment.
func replacementEnv(f catalog.Flag, value string) string {
	r := strings.TrimPrefix(replacementFor(f, value), "--")
	if r == "" {
		return ""
	}
	k, v, _ := strings.Cut(r, "=")
	return "; set " + envName(k) + "=" + v + " instead"
}

// envName is the ETCD_* variable etcd reads for a flag.
func envName(flag string) string {
	return "ETCD_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
}

func noteOf(f catalog.Flag) string {
	if f.Note == "" {
		return ""
	}
	return "; " + f.Note
}

func orNone(s string) string {
	if s == "" {
		return "no replacement (drop it)"
	}
	return s
}

// versionWarnings: known bugs on the way, CVEs now, end of life, patches.
// Only what concerns a cluster is listed: the server side, and auth-only
// CVEs unless its auth is known to be off.
func (pl *planner) versionWarnings() {
	scope := catalog.ServerScope(pl.cl.Auth)
	seen := map[string]bool{}
	for _, v := range pl.pathVersions() {
		for _, is := range pl.cat.IssuesFor(v, scope) {
			key := is.ID + v
			if seen[key] {
				continue
			}
			seen[key] = true
			pl.warn(Finding{Code: "known-issue", Message: fmt.Sprintf("%s, on the path, is affected by %s: %s", v, is.ID, is.Title),
				Reason: fixedReason(is.Affected, v, is.Severity) + onlyWith(is.Condition), Link: is.Link})
		}
	}
	pl.notesUnknown()
	current := pl.currentVersions()
	for _, v := range current {
		for _, is := range pl.cat.IssuesFor(v, scope) {
			if seen[is.ID+v] {
				continue
			}
			seen[is.ID+v] = true
			reason := fixedReason(is.Affected, v, is.Severity) + onlyWith(is.Condition)
			if is.Upgrade {
				reason += "; it bites during upgrades and membership changes"
			}
			pl.warn(Finding{Code: "known-issue", Message: fmt.Sprintf("the current %s is affected by %s: %s", v, is.ID, is.Title), Reason: reason, Link: is.Link})
		}
		cves, skipped := pl.cat.CVEsFor(v, scope)
		pl.p.CVEsNotApplicable += skipped
		for _, cve := range cves {
			pl.warn(Finding{Code: "cve", Message: fmt.Sprintf("the current %s is affected by %s (%s): %s", v, cve.ID, strings.Join(cve.Parts(), ", "), cve.Title),
				Reason: fixedReason(cve.Affected, v, cve.Severity) + cveScope(cve, pl.cl.Auth), Link: cve.Link})
		}
	}
	for _, m := range uniqueMinors(append(current, pl.p.Target)) {
		mi, ok := pl.cat.Minor(m)
		if !ok || mi.EOL == "" {
			continue
		}
		if eol, err := time.Parse("2006-01-02", mi.EOL); err == nil && !pl.opts.Now.Before(eol) {
			what := "the current minor"
			if m == version.Minor(pl.p.Target) {
				what = "the target minor"
			}
			pl.warn(Finding{Code: "eol", Message: fmt.Sprintf("etcd %s (%s) reached end of life on %s; its final release is %s", m, what, mi.EOL, mi.Latest),
				Reason: "no more fixes, security ones included", Link: mi.Link})
		}
	}
	t := pl.p.Target
	if latest := pl.latest(version.Minor(t)); pl.p.Direction == "upgrade" && version.Compare(t, latest) < 0 {
		pl.warn(Finding{Code: "not-latest-patch", Message: fmt.Sprintf("%s is not the latest %s patch (%s)", t, version.Minor(t), latest),
			Reason: "later patches carry fixes; target " + version.Minor(t) + " to get " + latest, Link: policyLink})
	}
	if mi, ok := pl.cat.Minor(version.Minor(t)); ok && mi.ProductionMinimum != "" && version.Compare(t, mi.ProductionMinimum) < 0 {
		pl.warn(Finding{Code: "production-minimum", Message: fmt.Sprintf("%s is below etcd's production minimum for %s (%s)", t, mi.Minor, mi.ProductionMinimum),
			Reason: "etcd recommends at least that patch for production", Link: policyLink})
	}
}

// cveScope says when a CVE concerns the cluster at all.
func cveScope(c catalog.CVE, auth string) string {
	var out string
	if c.AuthOnly {
		if auth == catalog.AuthOn {
			out += "; only clusters with etcd auth on are exposed, and this one has it on"
		} else {
			out += "; only clusters with etcd auth on are exposed (Kubernetes does not turn it on)"
		}
	}
	return out + onlyWith(c.Condition)
}

func onlyWith(condition string) string {
	if condition == "" {
		return ""
	}
	return "; only with " + condition
}

// notesUnknown warns about target and path releases published after the
// catalog's notes: their known issues and CVEs are not known here.
func (pl *planner) notesUnknown() {
	for _, v := range pl.pathVersions() {
		r, ok := pl.cat.Release(v)
		if !ok || !r.NotesUnknown {
			continue
		}
		pl.warn(Finding{Code: "notes-unknown", Message: fmt.Sprintf("%s was published on the module proxy on %s, after this etcdpilot's release notes (reviewed %s): its known issues and CVEs are unknown here", v, dashDate(r.Date), pl.cat.Updated),
			Reason: "read its entry in etcd's CHANGELOG before upgrading to it; a newer etcdpilot knows it", Link: catalog.ChangelogLink(version.Minor(v))})
	}
}

func dashDate(d string) string {
	if d == "" {
		return "an unknown date"
	}
	return d
}

func fixedReason(ranges []catalog.Range, v, severity string) string {
	if f := catalog.FixedIn(ranges, v); f != "" {
		return fmt.Sprintf("%s severity; fixed in %s", severity, f)
	}
	return severity + " severity; not fixed in " + version.Minor(v)
}

func (pl *planner) currentVersions() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range pl.cl.Members {
		if m.Version != "" && !seen[m.Version] {
			seen[m.Version] = true
			out = append(out, m.Version)
		}
	}
	return out
}

func uniqueMinors(vs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if m := version.Minor(v); !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// kubernetes compares the target with what kubeadm and kops use.
func (pl *planner) kubernetes() {
	k := strings.TrimPrefix(strings.TrimSpace(pl.opts.Kubernetes), "v")
	if k == "" {
		return
	}
	parts := strings.Split(k, ".")
	if len(parts) < 2 {
		pl.warn(Finding{Code: "kubernetes", Message: fmt.Sprintf("--kubernetes %q is not a version like 1.36", pl.opts.Kubernetes), Reason: "the Kubernetes checks were skipped"})
		return
	}
	k = parts[0] + "." + parts[1]
	link := pl.cat.Kubernetes.Link
	entry, ok := pl.cat.Kubeadm(k)
	if !ok {
		pl.warn(Finding{Code: "kubernetes", Message: fmt.Sprintf("the catalog has no kubeadm mapping for Kubernetes %s", k), Reason: "check kubeadm's SupportedEtcdVersion for that release", Link: link})
		return
	}
	t := pl.p.Target
	if min := catalog.ImageVersion(entry.MinExternal); version.Compare(t, min) < 0 {
		pl.block(Finding{Code: "kubernetes-min-external", Message: fmt.Sprintf("Kubernetes %s (kubeadm) needs etcd %s or later; the target is %s", k, min, t),
			Reason: "kubeadm refuses an external etcd below MinExternalEtcdVersion", Link: link})
	}
	def := catalog.ImageVersion(entry.Etcd)
	kops := pl.cat.Kops(k)
	if version.Minor(t) != version.Minor(def) {
		pl.warn(Finding{Code: "kubernetes", Message: fmt.Sprintf("Kubernetes %s: kubeadm ships etcd %s (kops %s); the target %s is another minor", k, entry.Etcd, orNone(kops), t),
			Reason: "run the etcd minor your Kubernetes release was tested with, or check its release notes for support of " + version.Minor(t), Link: link})
	} else if version.Compare(t, def) < 0 {
		pl.warn(Finding{Code: "kubernetes", Message: fmt.Sprintf("Kubernetes %s: kubeadm ships etcd %s; the target %s is older", k, entry.Etcd, t),
			Reason: "kubeadm's default carries fixes the target lacks", Link: link})
	}
}
