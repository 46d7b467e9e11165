package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

// TestPredictTreeTogether: a workspace (go.work) of two modules, lib that
// uses etcd's client and app that uses only grpc. Moved together, lib's
// move raises grpc, and go work sync raises app's grpc with it: the
// prediction names app's raise, which a module-by-module prediction
// cannot see. The tree itself is not changed, and --apply on the tree
// is refused.
func TestPredictTreeTogether(t *testing.T) {
	testutil.SkipShort(t)
	cat, _ := catalog.Default()
	ctx := testutil.Context(t, 10*time.Minute)
	root := t.TempDir()
	write := func(name, text string) {
		testutil.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		testutil.Must(t, os.WriteFile(filepath.Join(root, name), []byte(text), 0o644))
	}
	write("go.work", "go 1.24\n\nuse (\n\t./app\n\t./lib\n)\n")
	write("lib/go.mod", "module example.com/lib\n\ngo 1.24\n\nrequire go.etcd.io/etcd/client/v3 v3.5.21\n")
	write("lib/lib.go", "package lib\n\nimport clientv3 \"go.etcd.io/etcd/client/v3\"\n\nvar Config clientv3.Config\n")
	write("app/go.mod", "module example.com/app\n\ngo 1.24\n\nrequire google.golang.org/grpc v1.59.0\n")
	write("app/main.go", "package main\n\nimport \"google.golang.org/grpc\"\n\nfunc main() { _ = grpc.NewServer() }\n")
	for _, m := range []string{"lib", "app"} {
		tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
		tidy.Dir, tidy.Env = filepath.Join(root, m), goEnv()
		out, err := tidy.CombinedOutput()
		testutil.Must(t, err, string(out))
	}
	appBefore, _ := os.ReadFile(filepath.Join(root, "app", "go.mod"))

	tree, err := CheckTree(ctx, root, DepsOptions{Catalog: cat})
	testutil.Must(t, err)
	if err := SimulateTree(ctx, tree, "3.6.16", SimulateOptions{Apply: true}, nil); err == nil || !strings.Contains(err.Error(), "name one go.mod") {
		t.Fatalf("--apply on a workspace: %v", err)
	}
	testutil.Must(t, SimulateTree(ctx, tree, "3.6.16", SimulateOptions{}, nil))
	byPath := map[string]*Simulation{}
	for _, m := range tree.Modules {
		byPath[filepath.Base(filepath.Dir(m.GoMod))] = m.Simulation
	}
	lib, app := byPath["lib"], byPath["app"]
	if lib == nil || app == nil {
		t.Fatalf("simulations: lib %+v, app %+v", lib, app)
	}
	raised := func(sim *Simulation, path string) string {
		for _, r := range sim.Raises {
			if r.Path == path {
				return r.To
			}
		}
		return ""
	}
	libGRPC, appGRPC := raised(lib, "google.golang.org/grpc"), raised(app, "google.golang.org/grpc")
	t.Logf("lib: %s; raises %+v\napp: %s; raises %+v", strings.Join(lib.Commands, "; "), lib.Raises, strings.Join(app.Commands, "; "), app.Raises)
	if raised(lib, "go.etcd.io/etcd/client/v3") != "v3.6.16" || libGRPC == "" || appGRPC != libGRPC {
		t.Fatalf("grpc: lib to %q, app to %q", libGRPC, appGRPC)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "app", "go.mod")); string(b) != string(appBefore) {
		t.Fatal("the tree was changed")
	}
}
