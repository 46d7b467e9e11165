package printer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
	"github.com/etcdpilot/etcdpilot/pkg/repo"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

func print(t *testing.T, format string, v any) string {
	t.Helper()
	var b bytes.Buffer
	p, err := New(format, &b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(v); err != nil {
		t.Fatalf("%s %T: %v", format, v, err)
	}
	return b.String()
}

// Every result a command prints has a layout in every format.
func TestEveryResultHasALayout(t *testing.T) {
	now := time.Now()
	sc := &snapshot.Sidecar{Member: "m1", EtcdVersion: "3.6.16", Info: snapshot.Info{Size: 1 << 20, SHA256: strings.Repeat("ab", 32), Revision: 7, KeyCount: 3}}
	results := []any{
		Value{Name: "version", Value: "etcdpilot 1"},
		&status.Cluster{ClusterID: "c1", Health: "healthy", Members: []status.Member{{Name: "m1", ID: "a1", Reachable: true, IsLeader: true}}},
		&plan.Plan{Target: "3.6.16", Direction: "upgrade", Path: []plan.Step{{Index: 1, From: "3.5.35", To: "3.6.16", Kind: "minor"}}},
		&member.List{Members: []member.Member{{ID: "a1", Name: "m1", Started: true}}},
		&member.AddResult{Name: "m4", Member: member.Member{ID: "b2", IsLearner: true}, InitialCluster: "m4=http://h:2380", InitialClusterState: "existing"},
		&member.Result{Message: "removed m4"},
		&upgrade.Report{Target: "3.6.16", State: "done", From: map[string]string{"m1": "3.5.35"}, To: map[string]string{"m1": "3.6.16"}},
		&engine.Journal{Target: "3.6.16", State: "running", Entries: []engine.Entry{{At: now, Step: "snapshot", Status: "done"}}, Planned: []engine.Step{{Action: engine.Restart, Member: "m1", Version: "3.6.16"}}},
		&repo.Result{Pins: []repo.Pin{{File: "a", Line: 1, Version: "3.6.16", Text: "3.6.16", Kind: "go-const"}}},
		&repo.BumpResult{To: "3.6.16"},
		&repo.CheckResult{Expect: []string{"3.6.16"}, Pins: 1, Mismatches: []repo.Pin{{File: "a", Line: 1, Text: "3.5.0"}}},
		&repo.DepsTree{Root: ".", Modules: []*repo.DepsReport{{GoMod: "go.mod", Etcd: "3.5.9", Simulation: &repo.Simulation{Target: "3.6.16", Raises: []repo.Raise{{Path: "google.golang.org/grpc", From: "v1.54.0", To: "v1.83.2", Size: "minor"}}}}}},
		&snapshot.SaveResult{Path: "/b/s.db", Took: time.Second, Sidecar: sc},
		&snapshot.Report{File: "/b/s.db", Info: &sc.Info},
		snapshot.Listing{{File: "/b/s.db", Time: now, Sidecar: sc}, {File: "/b/.s.db.tmp-1", Time: now, Incomplete: "abandoned"}},
		&snapshot.Pruning{Decisions: []snapshot.Decision{{Entry: snapshot.Entry{File: "/b/s.db", Time: now}, Keep: true}}},
		&snapshot.RestoreResult{File: "/b/s.db", Targets: []snapshot.Target{{Name: "a", DataDir: "/d"}}},
		sandbox.Listing{{Name: "s", Members: 3}, {Name: "bad", Error: "corrupt"}},
		&pitr.Points{Chains: []*pitr.Chain{{Cluster: "c1", BaseRevision: 5, Through: 9, Base: &snapshot.Entry{Name: "s.db", Time: now}}}, Gaps: []pitr.Gap{{From: 10, To: 12}}},
		&pitr.Verified{Point: &pitr.Point{Result: &pitr.Result{Revision: 9}, Proof: &pitr.Proof{State: "proven", Source: &pitr.SourceHash{Member: "m1"}}}, Report: &snapshot.Report{File: "/b/p.db", Info: &sc.Info}},
		&pitr.Restored{Point: &pitr.Point{Result: &pitr.Result{Revision: 9}}, Restore: &snapshot.RestoreResult{File: "/b", Sandbox: "s"}},
		sandbox.EnvVars{{"ETCDCTL_ENDPOINTS", "http://h:1"}},
		&sandbox.Removed{Name: "s"},
		&binaries.Install{Version: "v3.6.16", Dir: "/c"},
		[]*binaries.Install{{Version: "v3.6.16", Dir: "/c"}},
	}
	for _, r := range results {
		for _, f := range []string{"table", "simple", "json", "fields"} {
			if out := print(t, f, r); strings.TrimSpace(out) == "" {
				t.Errorf("%s of %T is empty", f, r)
			}
		}
	}
	if _, err := viewOf(struct{}{}); err == nil || !strings.Contains(err.Error(), "-w json") {
		t.Errorf("an unknown type: %v", err)
	}
}

// simple is etcdctl's: one line per record, fields joined by ", ".
func TestSimple(t *testing.T) {
	l := &member.List{Members: []member.Member{{ID: "a1", Name: "m1", Started: true, PeerURLs: []string{"http://h:2380"}, ClientURLs: []string{"http://h:2379"}}}}
	if got := print(t, "simple", l); got != "a1, m1, voter, started, http://h:2380, http://h:2379\n" {
		t.Errorf("simple member list: %q", got)
	}
	env := sandbox.EnvVars{{"ETCDCTL_ENDPOINTS", "http://h:1"}, {"ETCDCTL_CACERT", "/ca's.crt"}}
	if got := print(t, "table", env); got != "export ETCDCTL_ENDPOINTS='http://h:1'\nexport ETCDCTL_CACERT='/ca'\\''s.crt'\n" {
		t.Errorf("env table: %q", got)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(print(t, "json", env)), &m); err != nil || m["ETCDCTL_CACERT"] != "/ca's.crt" {
		t.Errorf("env json: %v %v", err, m)
	}
	if _, err := New("yaml", nil); err == nil || !strings.Contains(err.Error(), "-w simple") {
		t.Errorf("unknown format: %v", err)
	}
}

// fields is etcdctl's: a "name" : value line per field (the names of -w
// json), lists repeating their elements' fields.
func TestFields(t *testing.T) {
	l := &member.List{Members: []member.Member{{ID: "a1", Name: "m1", Started: true}, {ID: "b2", Name: "m\"2", IsLearner: true}}}
	got := print(t, "fields", l)
	for _, want := range []string{`"members.id" : "a1"` + "\n", `"members.name" : "m1"` + "\n", `"members.name" : "m\"2"` + "\n", `"members.isLearner" : true` + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("fields member list lacks %s:\n%s", want, got)
		}
	}
	if strings.Index(got, `"m1"`) > strings.Index(got, `"b2"`) {
		t.Errorf("fields: the first member's fields come first:\n%s", got)
	}
	if got := print(t, "fields", Value{Name: "version", Value: "etcdpilot 1"}); got != `"version" : "etcdpilot 1"`+"\n" {
		t.Errorf("fields value: %q", got)
	}
	if got := print(t, "fields", &snapshot.Report{File: "/b/s.db", Info: &snapshot.Info{Revision: 7}}); !strings.Contains(got, `.revision" : 7`) {
		t.Errorf("fields nested number:\n%s", got)
	}
}
