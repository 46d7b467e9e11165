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

// DepsReport is deps check's answer.
type DepsReport struct {
	GoMod       string            `json:"goMod"`
	EtcdModules map[string]string `json:"etcdModules"`
	Findings    []Finding         `json:"findings"`
	Updates     []Update          `json:"updates"`
}

// Failed says whether CI should fail: any error finding.
func (r *DepsReport) Failed() bool {
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
}

const (
	linkLockstep = "" // etcd publishes its modules together, one version per release
	linkGRPC127  = "https://github.com/etcd-io/etcd/issues/11563"
	linkGRPC130  = "https://github.com/etcd-io/etcd/issues/12124"
	linkGRPC153  = "https://github.com/etcd-io/etcd/blob/main/CHANGELOG/CHANGELOG-3.5.md"
	linkOTel     = "https://github.com/etcd-io/etcd/blob/main/CHANGELOG/CHANGELOG-3.5.md"
	linkLegacy   = "https://github.com/etcd-io/etcd/issues/15968"
	linkBbolt    = "https://github.com/etcd-io/etcd/issues/11749"
)

// CheckDeps reads a go.mod and reports on its etcd dependencies.
func CheckDeps(ctx context.Context, path string, o DepsOptions) (*DepsReport, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "go.mod")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deps check: %w", err)
	}
	mf, err := modfile.Parse(path, data, nil)
	if err != nil {
		return nil, fmt.Errorf("deps check: %w", err)
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy
	}
	r := &DepsReport{GoMod: path, EtcdModules: map[string]string{}, Findings: []Finding{}, Updates: []Update{}}
	req := map[string]string{}
	for _, q := range mf.Require {
		req[q.Mod.Path] = q.Mod.Version
	}
	// A replace decides the version actually built.
	for _, rp := range mf.Replace {
		if rp.New.Version != "" {
			req[rp.Old.Path] = rp.New.Version
		}
	}
	for m, v := range req {
		if lockstepModule(m) {
			r.EtcdModules[m] = v
		}
		switch {
		case m == "github.com/coreos/etcd" || m == "go.etcd.io/etcd" || strings.HasPrefix(m, "github.com/coreos/etcd/"):
			r.add(SevError, "legacy-path", m, fmt.Sprintf("%s %s is etcd's pre-3.5 module path; it conflicts with go.etcd.io/etcd/*/v3 — import go.etcd.io/etcd/client/v3 (and api/v3, client/pkg/v3) instead", m, v), linkLegacy)
		case m == "github.com/coreos/bbolt":
			r.add(SevError, "legacy-path", m, fmt.Sprintf("%s %s is bbolt's old path; it conflicts with go.etcd.io/bbolt — use go.etcd.io/bbolt", m, v), linkBbolt)
		}
	}
	etcdV := r.lockstep()
	r.compat(req, etcdV)
	if o.Catalog != nil && etcdV != "" {
		r.cves(o.Catalog, etcdV)
		r.updates(o.Catalog, o.Policy, etcdV)
	}
	if o.Govulncheck {
		r.govulncheck(ctx, filepath.Dir(path))
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return sevRank(r.Findings[i].Severity) < sevRank(r.Findings[j].Severity) })
	return r, nil
}

func sevRank(s string) int {
	return map[string]int{SevError: 0, SevWarning: 1, SevInfo: 2}[s]
}

func (r *DepsReport) add(sev, code, module, msg, link string) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Code: code, Module: module, Message: msg, Link: link})
}

// lockstep checks that the etcd modules share one version and returns the
// lowest (the one compatibility depends on).
func (r *DepsReport) lockstep() string {
	byVersion := map[string][]string{}
	for m, v := range r.EtcdModules {
		byVersion[v] = append(byVersion[v], m)
	}
	var vs []string
	for v := range byVersion {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) < 0 })
	if len(vs) > 1 {
		var parts []string
		for _, v := range vs {
			sort.Strings(byVersion[v])
			parts = append(parts, fmt.Sprintf("%s: %s", v, strings.Join(byVersion[v], ", ")))
		}
		r.add(SevError, "not-lockstep", "", "etcd's modules must move in lockstep at one version; found "+strings.Join(parts, "; "), linkLockstep)
	}
	if len(vs) == 0 {
		return ""
	}
	return version.Plain(semver.Canonical(vs[0]))
}

// compat applies the known grpc, OpenTelemetry and genproto breakages.
func (r *DepsReport) compat(req map[string]string, etcdV string) {
	grpc := req["google.golang.org/grpc"]
	legacy := req["github.com/coreos/etcd"]
	if legacy == "" {
		legacy = req["go.etcd.io/etcd"]
	}
	if grpc != "" && legacy != "" {
		switch {
		case semver.Compare(grpc, "v1.27.0") >= 0 && semver.Compare(legacy, "v3.4.0") < 0:
			r.add(SevError, "grpc-incompatible", "google.golang.org/grpc", fmt.Sprintf("grpc %s breaks the etcd 3.3 client (%s): grpc 1.27 changed its balancer and resolver API (undefined: resolver.BuildOption); move to go.etcd.io/etcd/client/v3", grpc, legacy), linkGRPC127)
		case semver.Compare(grpc, "v1.30.0") >= 0:
			r.add(SevError, "grpc-incompatible", "google.golang.org/grpc", fmt.Sprintf("grpc %s breaks the pre-3.5 etcd client (%s) (grpc 1.30 removed APIs it uses); move to go.etcd.io/etcd/client/v3", grpc, legacy), linkGRPC130)
		}
	}
	if etcdV == "" {
		return
	}
	if grpc != "" && version.Compare(etcdV, "3.5.10") < 0 && semver.Compare(grpc, "v1.53.0") >= 0 {
		r.add(SevError, "grpc-incompatible", "google.golang.org/grpc", fmt.Sprintf("grpc %s needs etcd client 3.5.10 or later; the etcd modules are at %s", grpc, etcdV), linkGRPC153)
	}
	if version.Compare(etcdV, "3.5.0") >= 0 && version.Compare(etcdV, "3.5.5") < 0 {
		for m := range req {
			if strings.HasPrefix(m, "go.opentelemetry.io/") {
				r.add(SevWarning, "otel-incompatible", m, fmt.Sprintf("etcd %s is incompatible with newer OpenTelemetry modules (%s %s); fixed in etcd 3.5.5", etcdV, m, req[m]), linkOTel)
				break
			}
		}
	}
	if version.Compare(etcdV, "3.5.10") < 0 {
		for _, m := range []string{"google.golang.org/genproto/googleapis/api", "google.golang.org/genproto/googleapis/rpc"} {
			if _, ok := req[m]; ok {
				r.add(SevWarning, "genproto-split", m, fmt.Sprintf("%s is the split genproto module; etcd before 3.5.10 (here %s) imports the monolithic google.golang.org/genproto, which gives ambiguous-import errors — upgrade the etcd modules to 3.5.10+", m, etcdV), linkGRPC153)
				break
			}
		}
	}
}

// cves lists the catalog's CVEs of the etcd version in use.
func (r *DepsReport) cves(cat *catalog.Catalog, v string) {
	for _, c := range cat.CVEsAffecting(v) {
		r.add(SevWarning, "cve", "go.etcd.io/etcd", fmt.Sprintf("%s (%s, %s) affects etcd %s: %s", c.ID, c.Severity, dashIf(c.Component), v, c.Title), c.Link)
	}
}

func dashIf(s string) string {
	if s == "" {
		return "server"
	}
	return s
}

// updates lists the newer etcd releases and the policy's verdict.
func (r *DepsReport) updates(cat *catalog.Catalog, p Policy, v string) {
	var mods []string
	for m := range r.EtcdModules {
		mods = append(mods, m)
	}
	sort.Strings(mods)
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
