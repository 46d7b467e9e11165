package repo

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

func findingCodes(fs []Finding) string {
	var cs []string
	for _, f := range fs {
		cs = append(cs, f.Severity+":"+f.Code)
	}
	sort.Strings(cs)
	return strings.Join(cs, " ")
}

func TestClassifyModule(t *testing.T) {
	for _, tc := range []struct {
		path, version, set, etcd, commit string
	}{
		{"go.etcd.io/etcd/client/v3", "v3.5.9", SetLockstep, "3.5.9", ""},
		{"go.etcd.io/etcd/client/v2", "v2.305.9", SetLockstep, "3.5.9", ""},
		{"go.etcd.io/etcd/client/v2", "v2.304.27", SetLockstep, "3.4.27", ""},
		{"go.etcd.io/etcd/raft/v3", "v3.5.9", SetLockstep, "3.5.9", ""},
		{"go.etcd.io/etcd/etcdutl/v3", "v3.6.16", SetLockstep, "3.6.16", ""},
		{"go.etcd.io/etcd/etcdctl/v3", "v3.6.0-rc.1", SetLockstep, "3.6.0-rc.1", ""},
		{"go.etcd.io/raft/v3", "v3.6.0", SetSeparate, "", ""},
		{"go.etcd.io/bbolt", "v1.4.2", SetSeparate, "", ""},
		{"github.com/coreos/etcd", "v3.3.25+incompatible", SetLegacy, "3.3.25", ""},
		{"go.etcd.io/etcd", "v0.5.0-alpha.5.0.20200910180754-dd1b699fc489", SetLegacy, "", "dd1b699fc489"},
		{"go.etcd.io/etcd/api/v3", "v3.5.0-alpha.0.0.20210320072418-e51c697ec6e8", SetLockstep, "3.5.0-alpha.0", "e51c697ec6e8"},
		{"go.etcd.io/etcd/client/v2", "v2.305.0-alpha.0.0.20210320072418-e51c697ec6e8", SetLockstep, "3.5.0-alpha.0", "e51c697ec6e8"},
	} {
		m, ok := ClassifyModule(tc.path, tc.version)
		if !ok || m.Set != tc.set || m.Etcd != tc.etcd || m.Commit != tc.commit {
			t.Errorf("%s %s: %+v (ok %v), want set %s etcd %q commit %q", tc.path, tc.version, m, ok, tc.set, tc.etcd, tc.commit)
		}
	}
	if _, ok := ClassifyModule("google.golang.org/grpc", "v1.54.0"); ok {
		t.Error("grpc is not an etcd module")
	}
}

// The Kubernetes release that pinned etcd 3.5.9: client/v2 v2.305.9 is
// 3.5.9, the staging modules agree, and the updates are 3.5.9's.
func TestDepsKubernetes128(t *testing.T) {
	cat, _ := catalog.Default()
	tree, err := CheckTree(context.Background(), "testdata/deps/k8s-1.28", DepsOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Modules) != 4 || tree.Modules[0].Module != "k8s.io/kubernetes" {
		t.Fatalf("modules: %d, first %s", len(tree.Modules), tree.Modules[0].Module)
	}
	if tree.Etcd != "3.5.9" || len(tree.Findings) != 0 {
		t.Errorf("tree: etcd %s, findings %v", tree.Etcd, tree.Findings)
	}
	root := tree.Modules[0]
	if strings.Contains(findingCodes(root.Findings), "not-lockstep") || root.Etcd != "3.5.9" {
		t.Errorf("root: etcd %s, findings %s", root.Etcd, findingCodes(root.Findings))
	}
	if strings.Contains(findingCodes(root.Findings), "error:") {
		t.Errorf("errors on a go.mod Kubernetes shipped: %v", root.Findings)
	}
	for _, f := range root.Findings {
		if strings.Contains(f.Message, "2.305") {
			t.Errorf("a finding still talks of 2.305: %s", f.Message)
		}
	}
	if len(root.Updates) != 2 || root.Updates[0].From != "3.5.9" || root.Updates[0].To != cat.LatestPatch("3.5.0") || root.Updates[0].Kind != "patch" ||
		root.Updates[1].To != cat.Latest() || root.Updates[1].Kind != "minor" {
		t.Errorf("updates: %+v", root.Updates)
	}
	for _, m := range tree.Modules {
		if m.Module == "k8s.io/api" && (m.Etcd != "" || len(m.EtcdModules) != 0) {
			t.Errorf("k8s.io/api has no etcd: %+v", m)
		}
	}
}

func TestDepsTrees(t *testing.T) {
	cat, _ := catalog.Default()
	ctx := context.Background()
	check := func(dir string) *DepsTree {
		t.Helper()
		tree, err := CheckTree(ctx, filepath.Join("testdata/deps", dir), DepsOptions{Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	// 3.6 with go.etcd.io/raft/v3: separate, not out of lockstep.
	k := check("k8s-1.34").Modules[0]
	if k.Etcd != "3.6.4" || k.Failed() {
		t.Errorf("k8s 1.34: %s %s", k.Etcd, findingCodes(k.Findings))
	}
	// The legacy pseudo-version (a commit of September 2020) with grpc
	// replaced by 1.29.1: legacy, but grpc is one it builds with, so a
	// warning, not an error (the go.mod builds).
	em := check("etcd-manager-2021").Modules[0]
	if got := findingCodes(em.Findings); got != "warning:legacy-path" || em.Failed() {
		t.Errorf("etcd-manager 2021: %s", got)
	}
	for _, f := range em.Findings {
		if f.Code == "legacy-path" && !strings.Contains(f.Message, "dd1b699fc489") {
			t.Errorf("legacy finding does not name the commit: %s", f.Message)
		}
	}
	// Without the replace, grpc 1.36.1 breaks that client (grpc 1.30).
	noReplace := filepath.Join(t.TempDir(), "go.mod")
	b0, _ := os.ReadFile("testdata/deps/etcd-manager-2021/go.mod")
	os.WriteFile(noReplace, []byte(strings.Replace(string(b0), "replace google.golang.org/grpc => google.golang.org/grpc v1.29.1", "", 1)), 0o644)
	r, err := CheckDeps(ctx, noReplace, DepsOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if got := findingCodes(r.Findings); got != "error:grpc-incompatible warning:legacy-path" {
		t.Errorf("etcd-manager 2021 without its grpc replace: %s", got)
	}
	// client 3.5.9 with grpc 1.64.0 does not build (ambiguous genproto
	// imports); with 1.63.2 it does.
	for g, want := range map[string]string{"v1.64.0": "error:genproto-ambiguous", "v1.63.2": "warning:grpc-untested"} {
		p := filepath.Join(t.TempDir(), "go.mod")
		os.WriteFile(p, []byte("module x\n\ngo 1.22\n\nrequire (\n\tgo.etcd.io/etcd/client/v3 v3.5.9\n\tgoogle.golang.org/grpc "+g+"\n)\n"), 0o644)
		r, err := CheckDeps(ctx, p, DepsOptions{Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		got := findingCodes(r.Findings)
		if !strings.Contains(got, want) || (want != "error:genproto-ambiguous" && strings.Contains(got, "genproto")) {
			t.Errorf("3.5.9 with grpc %s: %s, want %s", g, got, want)
		}
	}
	if e := check("etcd-manager-2024").Modules[0]; e.Etcd != "3.5.13" || e.Failed() {
		t.Errorf("etcd-manager 2024: %s %s", e.Etcd, findingCodes(e.Findings))
	}
	// A local replace is reported, never an error.
	lr := check("local-replace").Modules[0]
	if got := findingCodes(lr.Findings); !strings.Contains(got, "info:replaced") || lr.Failed() || lr.Etcd != "3.6.16" {
		t.Errorf("local replace: %s, etcd %s", got, lr.Etcd)
	}

	// A staging module behind the others: the tree disagrees.
	dir := t.TempDir()
	if err := copyTree("testdata/deps/k8s-1.28", dir); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "staging/src/k8s.io/apiserver/go.mod")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.ReplaceAll(strings.ReplaceAll(string(b), "v3.5.9", "v3.5.8"), "v2.305.9", "v2.305.8")), 0o644)
	tree, err := CheckTree(ctx, dir, DepsOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if got := findingCodes(tree.Findings); got != "error:tree-disagrees" || tree.Etcd != "3.5.8" || !tree.Failed() {
		t.Errorf("disagreeing tree: %s, etcd %s", got, tree.Etcd)
	}
	if !strings.Contains(tree.Findings[0].Message, "staging/src/k8s.io/apiserver/go.mod") {
		t.Errorf("the finding does not name the module: %s", tree.Findings[0].Message)
	}
	if _, err := CheckTree(ctx, t.TempDir(), DepsOptions{}); err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("empty dir: %v", err)
	}
	// Issue 27: a go.work that uses a directory without a module is
	// named, as the go command names it, not skipped.
	os.WriteFile(filepath.Join(dir, "go.work"), []byte("go 1.21\n\nuse (\n\t.\n\t./gone\n)\n"), 0o644)
	if _, err := CheckTree(ctx, dir, DepsOptions{Catalog: cat}); err == nil || !strings.Contains(err.Error(), "go.work:5: use ./gone: no go.mod there") {
		t.Errorf("go.work with a missing module: %v", err)
	}
}
