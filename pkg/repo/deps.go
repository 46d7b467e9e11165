package repo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Finding severities.
const (
	SevError   = "error"
	SevWarning = "warning"
	SevInfo    = "info"
)

// Finding is one problem in a go.mod.
type Finding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Module   string `json:"module,omitempty"`
	Message  string `json:"message"`
	Link     string `json:"link,omitempty"`
}

// Update is an available etcd release for the modules, with the policy's
// verdict.
type Update struct {
	Modules []string `json:"modules"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Kind    string   `json:"kind"`   // patch, minor, major
	Action  string   `json:"action"` // auto, review, block
}

// DepsReport is deps check's answer for one go.mod.
type DepsReport struct {
	GoMod string `json:"goMod"`
	// Module is the module path; Go the go directive.
	Module string `json:"module"`
	Go     string `json:"go,omitempty"`
	// Etcd is the etcd release the lockstep modules are at (the lowest,
	// when they disagree); empty without etcd modules.
	Etcd        string       `json:"etcd,omitempty"`
	EtcdModules []EtcdModule `json:"etcdModules"`
	Findings    []Finding    `json:"findings"`
	Updates     []Update     `json:"updates"`
	// Simulation is what upgrading the etcd modules would do (--to).
	Simulation *Simulation `json:"simulation,omitempty"`
}

// hasLockstep says whether the module requires any of etcd's v3 modules.
func (r *DepsReport) hasLockstep() bool {
	for _, m := range r.EtcdModules {
		if m.Set == SetLockstep {
			return true
		}
	}
	return false
}

// Failed says whether CI should fail: any error finding, or a simulated
// upgrade that cannot just be done.
func (r *DepsReport) Failed() bool {
	if r.Simulation != nil && r.Simulation.Blocking() {
		return true
	}
	for _, f := range r.Findings {
		if f.Severity == SevError {
			return true
		}
	}
	return false
}

// Policy maps update kinds to actions.
type Policy map[string]string

// DefaultPolicy takes patches, reviews minors and blocks majors.
var DefaultPolicy = Policy{"patch": "auto", "minor": "review", "major": "block"}

// ParsePolicy reads "patch=auto,minor=review,major=block".
func ParsePolicy(s string) (Policy, error) {
	p := Policy{}
	for k, v := range DefaultPolicy {
		p[k] = v
	}
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || (k != "patch" && k != "minor" && k != "major") || (v != "auto" && v != "review" && v != "block") {
			return nil, fmt.Errorf("--policy %q: want kind=action pairs, kinds patch, minor, major; actions auto, review, block", s)
		}
		p[k] = v
	}
	return p, nil
}

// DepsOptions tune deps check.
type DepsOptions struct {
	Catalog *catalog.Catalog
	Policy  Policy
	// Govulncheck runs govulncheck -json when it is installed.
	Govulncheck bool
	// Resolve lets the checks ask the module proxy: a pseudo-version of
	// etcd's pre-3.5 module is named by the release in that commit's
	// version/version.go.
	Resolve bool
}

const (
	linkLockstep = "" // etcd publishes its modules together, one version per release
	linkGRPC127  = "https://github.com/etcd-io/etcd/issues/11563"
	linkGRPC130  = "https://github.com/etcd-io/etcd/issues/12124"
	linkGRPC153  = "https://github.com/etcd-io/etcd/issues/15877"
	linkGenproto = "https://github.com/googleapis/go-genproto/issues/1015"
	// linkOTel and the others above point at the issue or changelog that
	// documents each incompatibility.
	linkOTel   = "https://github.com/etcd-io/etcd/blob/main/CHANGELOG/CHANGELOG-3.5.md"
	linkLegacy = "https://github.com/etcd-io/etcd/issues/15968"
	linkBbolt  = "https://github.com/etcd-io/etcd/issues/11749"
)

// CheckDeps reads a go.mod and reports on its etcd dependencies.
func CheckDeps(ctx context.Context, path string, o DepsOptions) (*DepsReport, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "go.mod")
	}
	mf, err := readModFile(path)
	if err != nil {
		return nil, fmt.Errorf("deps check: %w", err)
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy
	}
	r := &DepsReport{GoMod: path, EtcdModules: []EtcdModule{}, Findings: []Finding{}, Updates: []Update{}}
	if mf.Module != nil {
		r.Module = mf.Module.Mod.Path
	}
	if mf.Go != nil {
		r.Go = mf.Go.Version
	}
	req := effectiveRequirements(mf)
	var legacy []EtcdModule
	for _, q := range mf.Require {
		m, ok := ClassifyModule(q.Mod.Path, req[q.Mod.Path])
		if !ok {
			continue
		}
		if o.Resolve && m.Set == SetLegacy && m.Etcd == "" && m.Commit != "" && !strings.HasPrefix(m.Path, "github.com/") {
			if rel, err := releaseOfCommit(ctx, "go", m.Path, m.Version); err == nil {
				m.Etcd, m.FromVersionGo = rel, true
			}
		}
		if rp := replacementOf(mf, q.Mod); rp != nil {
			m.Replace = rp.New.Path
			if rp.New.Version != "" {
				m.Replace += " " + rp.New.Version
			}
			m.LocalReplace = rp.New.Version == ""
		}
		r.EtcdModules = append(r.EtcdModules, m)
		switch {
		case m.LocalReplace:
			r.add(SevInfo, "replaced", m.Path, fmt.Sprintf("%s is replaced by the directory %s: its version is whatever that tree holds; replaced, not checked", m.Path, m.Replace), "")
		case m.Set == SetLegacy:
			legacy = append(legacy, m)
		}
	}
	sort.Slice(r.EtcdModules, func(i, j int) bool { return r.EtcdModules[i].Path < r.EtcdModules[j].Path })
	// A pre-3.5 path alone builds (the 3.4 client on its own module): a
	// warning to move on. Beside etcd's v3 modules it is a conflict: two
	// copies of etcd's API types register the same protobuf names.
	for _, m := range legacy {
		sev, what := SevWarning, "3.4 and earlier, out of support since 2026-06-01; moving to 3.5+ changes the imports"
		if r.hasLockstep() {
			sev, what = SevError, "it conflicts with go.etcd.io/etcd/*/v3, which this module also requires"
		}
		r.add(sev, "legacy-path", m.Path, fmt.Sprintf("%s %s (%s) is etcd's pre-3.5 module path: %s — import go.etcd.io/etcd/client/v3 (and api/v3, client/pkg/v3) instead", m.Path, m.Version, m.Describe(), what), linkLegacy)
	}
	if v, ok := req["github.com/coreos/bbolt"]; ok {
		sev, what := SevWarning, "move to go.etcd.io/bbolt"
		if _, both := req["go.etcd.io/bbolt"]; both {
			sev, what = SevError, "it conflicts with go.etcd.io/bbolt, which this module also requires: use go.etcd.io/bbolt only"
		}
		r.add(sev, "legacy-path", "github.com/coreos/bbolt", fmt.Sprintf("github.com/coreos/bbolt %s is bbolt's old path: %s", v, what), linkBbolt)
	}
	r.Etcd = r.lockstep()
	r.compat(req, r.Etcd)
	if o.Catalog != nil && r.Etcd != "" {
		r.cves(o.Catalog, r.Etcd)
		r.updates(o.Catalog, o.Policy, r.Etcd)
	}
	if o.Govulncheck {
		r.govulncheck(ctx, filepath.Dir(path))
	}
	sortFindings(r.Findings)
	return r, nil
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return sevRank(fs[i].Severity) < sevRank(fs[j].Severity) })
}

// readModFile parses a go.mod.
func readModFile(path string) (*modfile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(path, data, nil)
}

// effectiveRequirements maps each required module to the version that is
// built: a replace with a version decides it.
func effectiveRequirements(mf *modfile.File) map[string]string {
	req := map[string]string{}
	for _, q := range mf.Require {
		req[q.Mod.Path] = q.Mod.Version
	}
	for _, rp := range mf.Replace {
		if _, ok := req[rp.Old.Path]; ok && rp.New.Version != "" && (rp.Old.Version == "" || rp.Old.Version == req[rp.Old.Path]) {
			req[rp.Old.Path] = rp.New.Version
		}
	}
	return req
}

// replacementOf is the replace directive that applies to a requirement.
func replacementOf(mf *modfile.File, m module.Version) *modfile.Replace {
	for _, rp := range mf.Replace {
		if rp.Old.Path == m.Path && (rp.Old.Version == "" || rp.Old.Version == m.Version) {
			return rp
		}
	}
	return nil
}

func sevRank(s string) int {
	return map[string]int{SevError: 0, SevWarning: 1, SevInfo: 2}[s]
}

func (r *DepsReport) add(sev, code, module, msg, link string) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Code: code, Module: module, Message: msg, Link: link})
}

// lockstep checks that etcd's lockstep modules are at one release (and
// one commit, for pseudo-versions) and returns the lowest release, the one
// compatibility depends on. client/v2's v2.305.9 is 3.5.9.
func (r *DepsReport) lockstep() string {
	byKey := map[string][]EtcdModule{}
	for _, m := range r.EtcdModules {
		if m.Set != SetLockstep || m.LocalReplace {
			continue
		}
		byKey[m.key()] = append(byKey[m.key()], m)
	}
	var keys []string
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := byKey[keys[i]][0], byKey[keys[j]][0]
		if c := version.Compare(a.Etcd, b.Etcd); c != 0 {
			return c < 0
		}
		return a.Commit < b.Commit
	})
	if len(keys) > 1 {
		var parts []string
		for _, k := range keys {
			var mods []string
			for _, m := range byKey[k] {
				mods = append(mods, m.Path+" "+m.Version)
			}
			parts = append(parts, fmt.Sprintf("%s: %s", byKey[k][0].Describe(), strings.Join(mods, ", ")))
		}
		r.add(SevError, "not-lockstep", "", "etcd's modules must move in lockstep at one release; found "+strings.Join(parts, "; "), linkLockstep)
	}
	if len(keys) == 0 {
		return ""
	}
	return byKey[keys[0]][0].Etcd
}

// compat applies the known grpc, OpenTelemetry and genproto breakages.
func (r *DepsReport) compat(req map[string]string, etcdV string) {
	grpc := req["google.golang.org/grpc"]
	for _, m := range r.EtcdModules {
		if m.Set != SetLegacy || m.LocalReplace || grpc == "" || strings.Contains(m.Path, "bbolt") {
			continue
		}
		// grpc 1.27 changed the balancer and resolver API: 3.3 and the
		// main branch before #11564 (March 2020) break. grpc 1.30 removed
		// APIs every pre-3.5 client uses (#12124); 3.5 fixed it with its
		// new module paths.
		old3 := m.Etcd != "" && version.Compare(m.Etcd, "3.4.0") < 0
		oldCommit := m.Etcd == "" && !m.Time.IsZero() && m.Time.Before(time.Date(2020, 3, 17, 0, 0, 0, 0, time.UTC))
		// 3.4.28 moved the 3.4 client to grpc 1.58.3 (CVE-2023-44487):
		// a commit of 3.4.28 or later builds with newer grpc (measured:
		// 3.4.34's commit with grpc 1.65.0).
		late34 := version.Minor(m.Etcd) == "3.4" && version.Compare(m.Etcd, "3.4.28") >= 0
		switch {
		case late34:
		case semver.Compare(grpc, "v1.27.0") >= 0 && (old3 || oldCommit):
			r.add(SevError, "grpc-incompatible", "google.golang.org/grpc", fmt.Sprintf("grpc %s breaks the etcd client %s (%s): grpc 1.27 changed its balancer and resolver API (undefined: resolver.BuildOption); move to go.etcd.io/etcd/client/v3", grpc, m.Version, m.Describe()), linkGRPC127)
		case semver.Compare(grpc, "v1.30.0") >= 0:
			r.add(SevError, "grpc-incompatible", "google.golang.org/grpc", fmt.Sprintf("grpc %s breaks the pre-3.5 etcd client %s (%s): grpc 1.30 removed APIs it uses; move to go.etcd.io/etcd/client/v3", grpc, m.Version, m.Describe()), linkGRPC130)
		}
	}
	if etcdV == "" {
		return
	}
	if grpc != "" && version.Compare(etcdV, "3.5.0") >= 0 && version.Compare(etcdV, "3.5.10") < 0 && semver.Compare(grpc, "v1.55.0") >= 0 {
		// The client builds and runs with newer grpc (client/v3 3.5.9 with
		// grpc 1.54-1.60 builds here); etcd's own test packages did not
		// until 3.5.10, which moved to grpc 1.58.3.
		r.add(SevWarning, "grpc-untested", "google.golang.org/grpc", fmt.Sprintf("grpc %s is newer than etcd %s was tested with: the client builds, but etcd's own test and proxy packages need 3.5.10 or later (etcd-io/etcd#15877), which also moved to grpc 1.58.3 for CVE-2023-44487", grpc, etcdV), linkGRPC153)
	}
	if version.Compare(etcdV, "3.5.0") >= 0 && version.Compare(etcdV, "3.5.5") < 0 {
		for m := range req {
			if strings.HasPrefix(m, "go.opentelemetry.io/") {
				r.add(SevWarning, "otel-incompatible", m, fmt.Sprintf("etcd %s is incompatible with newer OpenTelemetry modules (%s %s); fixed in etcd 3.5.5", etcdV, m, req[m]), linkOTel)
				break
			}
		}
	}
	r.genproto(req, etcdV)
}

// genproto checks the genproto split (googleapis/go-genproto#1015): the
// packages of googleapis/api and googleapis/rpc live in the split modules
// and, before the split of May 2023, in the monolithic
// google.golang.org/genproto too. etcd 3.5.0-3.5.9 requires a monolith
// from before the split. Split modules from before March 2024 require a
// monolith from after it, so minimum version selection raises it and the
// build is fine; later ones (pulled in by grpc 1.64 and on) do not, and the
// build finds the packages twice. Measured with client/v3 3.5.9: grpc
// 1.54-1.63 build, grpc 1.64.0 fails with "ambiguous import". A monolith
// from after the split in go.mod avoids it.
func (r *DepsReport) genproto(req map[string]string, etcdV string) {
	if version.Compare(etcdV, "3.5.0") < 0 || version.Compare(etcdV, "3.5.10") >= 0 {
		return
	}
	if t, err := module.PseudoVersionTime(req["google.golang.org/genproto"]); err == nil && !t.Before(genprotoSplit) {
		return
	}
	cause := ""
	if g := req["google.golang.org/grpc"]; g != "" && semver.Compare(g, "v1.64.0") >= 0 {
		cause = "grpc " + g
	}
	for p, v := range req {
		if t, err := module.PseudoVersionTime(v); err == nil && strings.HasPrefix(p, "google.golang.org/genproto/googleapis/") && !t.Before(genprotoNoMonolith) {
			cause = p + " " + v
		}
	}
	if cause == "" {
		return
	}
	r.add(SevError, "genproto-ambiguous", "google.golang.org/genproto", fmt.Sprintf("etcd %s requires the monolithic google.golang.org/genproto from before its May 2023 split, and %s brings split genproto modules that no longer raise it: the build fails with \"ambiguous import\" (measured: client/v3 3.5.9 with grpc 1.64.0); move the etcd modules to 3.5.10 or later, or require google.golang.org/genproto at a version after the split", etcdV, cause), linkGenproto)
}

// genprotoNoMonolith: split genproto modules from then on no longer
// require the monolith.
var genprotoNoMonolith = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// genprotoSplit is when the monolithic genproto lost the packages the
// split modules carry.
var genprotoSplit = time.Date(2023, 5, 25, 0, 0, 0, 0, time.UTC)

// cves lists the catalog's CVEs of the etcd version in use that concern
// the modules the project requires: client-side ones for client modules,
// server-side ones for the server and embed. A library cannot tell
// whether the clusters it talks to have auth on.
func (r *DepsReport) cves(cat *catalog.Catalog, v string) {
	scope := catalog.Scope{Parts: r.parts()}
	cves, skipped := cat.CVEsFor(v, scope)
	for _, c := range cves {
		r.add(SevWarning, "cve", "go.etcd.io/etcd", fmt.Sprintf("%s (%s, %s) affects etcd %s: %s%s", c.ID, c.Severity, strings.Join(c.Parts(), ", "), v, c.Title, authNote(c)), c.Link)
	}
	if skipped > 0 {
		r.add(SevInfo, "cve", "go.etcd.io/etcd", fmt.Sprintf("%d CVE(s) of etcd %s concern only parts this module does not require (%s)", skipped, v, strings.Join(scope.Parts, ", ")), "")
	}
}

// parts are the parts of etcd the project's modules bring in.
func (r *DepsReport) parts() []string {
	set := map[string]bool{}
	for _, m := range r.EtcdModules {
		switch {
		case m.Path == "go.etcd.io/etcd" || strings.HasPrefix(m.Path, "go.etcd.io/etcd/server/") || strings.HasPrefix(m.Path, "go.etcd.io/etcd/tests/") || m.Path == "go.etcd.io/etcd/v3":
			set[catalog.PartServer], set[catalog.PartClient] = true, true
		case strings.HasPrefix(m.Path, "go.etcd.io/etcd/etcdutl/"):
			set[catalog.PartEtcdutl], set[catalog.PartServer] = true, true
		case strings.HasPrefix(m.Path, "go.etcd.io/etcd/etcdctl/"):
			set[catalog.PartEtcdctl], set[catalog.PartClient] = true, true
		default:
			set[catalog.PartClient] = true
		}
	}
	var out []string
	for _, p := range []string{catalog.PartServer, catalog.PartClient, catalog.PartEtcdctl, catalog.PartEtcdutl} {
		if set[p] {
			out = append(out, p)
		}
	}
	return out
}

func authNote(c catalog.CVE) string {
	if c.AuthOnly {
		return " (only clusters with etcd auth on are exposed)"
	}
	return ""
}

// updates lists the newer etcd releases for the lockstep set and the
// policy's verdict: the latest patch of its minor, and the latest release.
func (r *DepsReport) updates(cat *catalog.Catalog, p Policy, v string) {
	var mods []string
	for _, m := range r.EtcdModules {
		if m.Set == SetLockstep && !m.LocalReplace {
			mods = append(mods, m.Path)
		}
	}
	if latest, err := cat.Resolve(version.Minor(v)); err == nil && version.Compare(latest, v) > 0 {
		r.Updates = append(r.Updates, Update{Modules: mods, From: v, To: latest, Kind: "patch", Action: p["patch"]})
	}
	if latest := cat.Latest(); version.Minor(latest) != version.Minor(v) && version.Compare(latest, v) > 0 {
		kind := "minor"
		if semver.Major("v"+latest) != semver.Major("v"+v) {
			kind = "major"
		}
		r.Updates = append(r.Updates, Update{Modules: mods, From: v, To: latest, Kind: kind, Action: p[kind]})
	}
}

// govulncheck runs govulncheck -json in the module when it is installed.
func (r *DepsReport) govulncheck(ctx context.Context, dir string) {
	bin, err := exec.LookPath("govulncheck")
	if err != nil {
		r.add(SevInfo, "govulncheck", "", "govulncheck is not installed, so reachable vulnerabilities were not checked (go install golang.org/x/vuln/cmd/govulncheck@latest)", "")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-json", "./...")
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		r.add(SevWarning, "govulncheck", "", fmt.Sprintf("govulncheck failed: %v: %s", err, strings.TrimSpace(errb.String())), "")
		return
	}
	r.Findings = append(r.Findings, ParseGovulncheck(out.Bytes())...)
}

// ParseGovulncheck turns govulncheck's JSON stream into findings: one per
// vulnerability, an error when the vulnerable code is called.
func ParseGovulncheck(data []byte) []Finding {
	type frame struct {
		Module   string `json:"module"`
		Version  string `json:"version"`
		Function string `json:"function"`
	}
	type msg struct {
		OSV *struct {
			ID      string `json:"id"`
			Summary string `json:"summary"`
		} `json:"osv"`
		Finding *struct {
			OSV          string  `json:"osv"`
			FixedVersion string  `json:"fixed_version"`
			Trace        []frame `json:"trace"`
		} `json:"finding"`
	}
	summaries := map[string]string{}
	type hit struct {
		module, version, fixed string
		called                 bool
	}
	hits := map[string]*hit{}
	var order []string
	dec := json.NewDecoder(bufio.NewReader(bytes.NewReader(data)))
	for {
		var m msg
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 {
			h, ok := hits[f.OSV]
			if !ok {
				h = &hit{module: f.Trace[0].Module, version: f.Trace[0].Version, fixed: f.FixedVersion}
				hits[f.OSV] = h
				order = append(order, f.OSV)
			}
			h.called = h.called || f.Trace[0].Function != ""
		}
	}
	var out []Finding
	for _, id := range order {
		h := hits[id]
		sev, how := SevWarning, "imported, not called"
		if h.called {
			sev, how = SevError, "called"
		}
		fixed := "no fix yet"
		if h.fixed != "" {
			fixed = "fixed in " + h.fixed
		}
		out = append(out, Finding{Severity: sev, Code: "vuln", Module: h.module,
			Message: fmt.Sprintf("%s in %s %s (%s; %s): %s", id, h.module, h.version, how, fixed, summaries[id]),
			Link:    "https://pkg.go.dev/vuln/" + id})
	}
	return out
}
