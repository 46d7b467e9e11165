package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

func raiseOf(sim *Simulation, path string) *Raise {
	for i := range sim.Raises {
		if sim.Raises[i].Path == path {
			return &sim.Raises[i]
		}
	}
	return nil
}

func conflictKinds(sim *Simulation) string {
	var ks []string
	for _, c := range sim.Conflicts {
		ks = append(ks, c.Kind+":"+c.Path)
	}
	return strings.Join(ks, " ")
}

// TestSimulateAgainstTheProxy reads etcd 3.6.16's own go.mod files from the
// module proxy (cached in the module cache for later runs) and simulates
// the Kubernetes 1.28 go.mod and a service that pins grpc moving to it.
func TestSimulateAgainstTheProxy(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 10*time.Minute)
	r, err := CheckDeps(ctx, "testdata/deps/k8s-1.28/go.mod", DepsOptions{Catalog: cat})
	testutil.Must(t, err)
	sim, err := Simulate(ctx, r, "3.6.16", SimulateOptions{})
	testutil.Must(t, err, "simulate")
	t.Logf("go %s -> %s; raises %+v; new %d; conflicts %s", sim.GoFrom, sim.GoTo, sim.Raises, len(sim.New), conflictKinds(sim))
	for _, want := range []string{"not-provided:go.etcd.io/etcd/client/v2", "not-provided:go.etcd.io/etcd/raft/v3", "go:"} {
		if !strings.Contains(conflictKinds(sim), want) {
			t.Errorf("conflicts lack %s: %s", want, conflictKinds(sim))
		}
	}
	if g := raiseOf(sim, "google.golang.org/grpc"); g == nil || g.From != "v1.54.0" || g.Size != "minor" {
		t.Errorf("grpc raise: %+v", g)
	}
	for _, p := range []string{"google.golang.org/protobuf", "golang.org/x/net", "go.opentelemetry.io/otel"} {
		if raiseOf(sim, p) == nil {
			t.Errorf("no raise of %s", p)
		}
	}
	if sim.GoFrom != "1.20" || sim.GoTo == "1.20" {
		t.Errorf("go directive %s -> %s", sim.GoFrom, sim.GoTo)
	}

	r, err = CheckDeps(ctx, "testdata/deps/grpc-pinned/go.mod", DepsOptions{Catalog: cat})
	testutil.Must(t, err)
	sim, err = Simulate(ctx, r, "3.6.16", SimulateOptions{})
	testutil.Must(t, err, "simulate")
	if !strings.Contains(conflictKinds(sim), "replace:google.golang.org/grpc") {
		t.Errorf("the grpc replace is not a conflict: %s", conflictKinds(sim))
	}

	// Without the module proxy: a clear error.
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOMODCACHE", t.TempDir())
	_, err = Simulate(ctx, r, "3.6.16", SimulateOptions{})
	if err == nil || !strings.Contains(err.Error(), "module proxy") {
		t.Errorf("without the proxy: %v", err)
	}
}

// TestApplyInACopy runs the upgrade for real in a copy of a small module:
// go get, go mod tidy, the go.mod diff and a build. The tree is untouched.
// TestApply: --apply with --out writes the moved module to a new
// directory and leaves the module alone; without --out it writes go.mod
// and go.sum back into the module, its relative directory replace kept
// relative, and builds it there (a fresh check reads the new version);
// a move that does not build writes nothing. The module is named by a
// relative path and replaces a module beside it (../helper).
func TestApply(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 10*time.Minute)
	root := t.TempDir()
	dir := filepath.Join(root, "watcher")
	gomod := "module example.com/watcher\n\ngo 1.22\n\nrequire (\n\texample.com/helper v0.0.0\n\tgo.etcd.io/etcd/client/v3 v3.5.21\n)\n\nreplace example.com/helper => ../helper\n"
	write := func(name, text string) {
		testutil.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		testutil.Must(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("go.mod", gomod)
	write("../helper/go.mod", "module example.com/helper\n\ngo 1.22\n")
	write("../helper/helper.go", "package helper\n\nconst Name = \"watcher\"\n")
	t.Chdir(dir)
	main := `package main

import (
	"fmt"

	"example.com/helper"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() { fmt.Println(helper.Name, clientv3.Config{}.Endpoints%s) }
`
	write("main.go", fmt.Sprintf(main, ""))
	simulate := func(o SimulateOptions) *Applied {
		t.Helper()
		r, err := CheckDeps(ctx, "go.mod", DepsOptions{Catalog: cat})
		testutil.Must(t, err)
		o.Apply = true
		sim, err := Simulate(ctx, r, "3.6.16", o)
		testutil.Must(t, err, "apply")
		t.Logf("written %v, build ok %v in %s: %s", sim.Applied.Written, sim.Applied.BuildOK, sim.Applied.Dir, sim.Applied.Output)
		return sim.Applied
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }

	// A move that does not build writes nothing; the copy is kept.
	write("main.go", fmt.Sprintf(main, ".NoSuchField"))
	a := simulate(SimulateOptions{})
	if a.BuildOK || len(a.Written) > 0 || read(filepath.Join(dir, "go.mod")) != gomod {
		t.Fatalf("a move that does not build: %+v", a)
	}
	os.RemoveAll(filepath.Dir(a.Dir))
	write("main.go", fmt.Sprintf(main, ""))

	out := filepath.Join(t.TempDir(), "moved")
	a = simulate(SimulateOptions{Out: out})
	if !a.BuildOK || a.Dir != out || !strings.Contains(read(filepath.Join(out, "go.mod")), "go.etcd.io/etcd/client/v3 v3.6.16") || read(filepath.Join(dir, "go.mod")) != gomod {
		t.Fatalf("--out: %+v\n%s", a, read(filepath.Join(out, "go.mod")))
	}
	if _, err := Simulate(ctx, mustCheck(t, ctx, dir, cat), "3.6.16", SimulateOptions{Apply: true, Out: out}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("--out over an existing directory: %v", err)
	}

	a = simulate(SimulateOptions{})
	after := read(filepath.Join(dir, "go.mod"))
	if !a.BuildOK || a.Dir != dir || len(a.Written) != 2 || !strings.Contains(after, "replace example.com/helper => ../helper") {
		t.Fatalf("in place: %+v\n%s", a, after)
	}
	if m := mustCheck(t, ctx, dir, cat); m.Etcd != "3.6.16" {
		t.Fatalf("a fresh check reads etcd %q", m.Etcd)
	}
	t.Logf("go.mod after:\n%s", after)
}

func mustCheck(t *testing.T, ctx context.Context, dir string, cat *catalog.Catalog) *DepsReport {
	t.Helper()
	r, err := CheckDeps(ctx, filepath.Join(dir, "go.mod"), DepsOptions{Catalog: cat})
	testutil.Must(t, err)
	return r
}

// TestNotProvidedJudgedByImports: a module 3.6 no longer publishes is a
// conflict only when a package imports it; an indirect leftover is
// dropped by go mod tidy and said so.
func TestNotProvidedJudgedByImports(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 10*time.Minute)
	for _, c := range []struct {
		name, code, raftReq string
		blocking            bool
		kind                string
	}{
		{"imported", `import _ "go.etcd.io/etcd/raft/v3/raftpb"` + "\n" + `import _ "go.etcd.io/etcd/client/v3"`, "go.etcd.io/etcd/raft/v3 v3.5.21", true, "not-provided"},
		{"indirect only", `import _ "go.etcd.io/etcd/client/v3"`, "go.etcd.io/etcd/raft/v3 v3.5.21 // indirect", false, "dropped"},
	} {
		dir := t.TempDir()
		gomod := "module example.com/raftuser\n\ngo 1.24\n\nrequire (\n\tgo.etcd.io/etcd/client/v3 v3.5.21\n\t" + c.raftReq + "\n)\n"
		testutil.Must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
		testutil.Must(t, os.WriteFile(filepath.Join(dir, "use.go"), []byte("package raftuser\n\n"+c.code+"\n"), 0o644))
		r, err := CheckDeps(ctx, filepath.Join(dir, "go.mod"), DepsOptions{Catalog: cat})
		testutil.Must(t, err)
		sim, err := Simulate(ctx, r, "3.6.16", SimulateOptions{})
		testutil.Must(t, err, c.name)
		if sim.Method != MethodGo || sim.Blocking() != c.blocking || !strings.Contains(conflictKinds(sim), c.kind+":go.etcd.io/etcd/raft/v3") {
			t.Errorf("%s: method %q, blocking %v, conflicts %s", c.name, sim.Method, sim.Blocking(), conflictKinds(sim))
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); string(b) != gomod {
			t.Errorf("%s: the tree was changed", c.name)
		}
	}
}

// Without a Go toolchain, --to says what it needs.
func TestPredictWithoutGo(t *testing.T) {
	cat, _ := catalog.Default()
	dir := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.24\n\nrequire go.etcd.io/etcd/client/v3 v3.5.21\n"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "m.go"), []byte("package m\n\nimport _ \"go.etcd.io/etcd/client/v3\"\n"), 0o644))
	r, err := CheckDeps(testutil.Context(t, time.Minute), filepath.Join(dir, "go.mod"), DepsOptions{Catalog: cat})
	testutil.Must(t, err)
	_, err = Simulate(testutil.Context(t, time.Minute), r, "3.6.16", SimulateOptions{Go: "no-such-go"})
	if err == nil || !strings.Contains(err.Error(), "install Go, or leave out --to") {
		t.Errorf("without go: %v", err)
	}
}

// TestLegacyPseudoVersionNamed: a pseudo-version of etcd's pre-3.5 module
// is named by the release in that commit's version/version.go (read
// through the module proxy), and a 3.4.28+ commit with a new grpc is no
// error: it builds (3.4.28 moved the 3.4 client to grpc 1.58.3; measured
// with 3.4.34's commit and grpc 1.65.0). A 2020 commit of the main branch
// still breaks with grpc 1.30+.
func TestLegacyPseudoVersionNamed(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 5*time.Minute)
	p := filepath.Join(t.TempDir(), "go.mod")
	testutil.Must(t, os.WriteFile(p, []byte("module x\n\ngo 1.22\n\nrequire (\n\tgo.etcd.io/etcd v0.0.0-20240911181550-c123b3ea3db3\n\tgoogle.golang.org/grpc v1.65.0\n)\n"), 0o644))
	r, err := CheckDeps(ctx, p, DepsOptions{Catalog: cat, Resolve: true})
	testutil.Must(t, err)
	if len(r.EtcdModules) != 1 || r.EtcdModules[0].Etcd != "3.4.34" || !strings.Contains(r.EtcdModules[0].Describe(), "etcd 3.4.34 by its version/version.go (commit c123b3ea3db3") {
		t.Errorf("3.4.34's commit: %+v", r.EtcdModules)
	}
	for _, f := range r.Findings {
		if f.Severity == SevError {
			t.Errorf("an error on a go.mod that builds: %s", f.Message)
		}
	}
	b, _ := os.ReadFile("testdata/deps/etcd-manager-2021/go.mod")
	testutil.Must(t, os.WriteFile(p, []byte(strings.Replace(string(b), "replace google.golang.org/grpc => google.golang.org/grpc v1.29.1", "", 1)), 0o644))
	r, err = CheckDeps(ctx, p, DepsOptions{Catalog: cat, Resolve: true})
	testutil.Must(t, err)
	if !strings.Contains(findingCodes(r.Findings), "error:grpc-incompatible") {
		t.Errorf("the 2020 main-branch commit with grpc 1.36.1: %s (%+v)", findingCodes(r.Findings), r.EtcdModules)
	}
}

// TestPredictExcludeAndReplace (issue 27): by the go command, an exclude
// of the very version the move targets and a replace holding an etcd
// module below it are each named, and the replace blocks.
func TestPredictExcludeAndReplace(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 10*time.Minute)
	for _, c := range []struct{ name, extra, want string }{
		{"exclude of the target", "exclude go.etcd.io/etcd/client/v3 v3.6.16\n", "exclude:go.etcd.io/etcd/client/v3"},
		{"replace below the target", "replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.5.21\n", "replace:go.etcd.io/etcd/api/v3"},
	} {
		dir := t.TempDir()
		gomod := "module example.com/watcher\n\ngo 1.24\n\nrequire go.etcd.io/etcd/client/v3 v3.5.21\n\n" + c.extra
		testutil.Must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
		testutil.Must(t, os.WriteFile(filepath.Join(dir, "use.go"), []byte("package watcher\n\nimport _ \"go.etcd.io/etcd/client/v3\"\n"), 0o644))
		r, err := CheckDeps(ctx, filepath.Join(dir, "go.mod"), DepsOptions{Catalog: cat})
		testutil.Must(t, err)
		sim, err := Simulate(ctx, r, "3.6.16", SimulateOptions{})
		testutil.Must(t, err, c.name)
		if !strings.Contains(conflictKinds(sim), c.want) || !sim.Blocking() {
			t.Errorf("%s: method %q, blocking %v, conflicts %s", c.name, sim.Method, sim.Blocking(), conflictKinds(sim))
		}
	}
}
