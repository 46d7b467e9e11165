package repo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

// TestDepsCorpus replays real commits that moved a module's etcd
// requirements (testdata/deps-corpus, made by scripts/depscorpus from the
// projects' history): the module is rebuilt as a stub holding its go.mod
// and go.sum before the commit and importing exactly the packages its Go
// files imported, deps check --to predicts the move to the release the
// commit went to, and the prediction is compared, requirement by
// requirement, with the go.mod the commit wrote. It prints each case and
// the totals: recall (the commit's changes predicted) and precision (the
// predicted changes the commit made).
func TestDepsCorpus(t *testing.T) {
	testutil.SkipShort(t)
	cases, err := filepath.Glob("testdata/deps-corpus/*/go.mod.before")
	testutil.Must(t, err)
	if len(cases) == 0 {
		t.Fatal("no corpus")
	}
	cat, _ := catalog.Default()
	var real, predicted, matched, unavailable, codeMoves, untidyCases, differing int
	var lines []string
	for _, c := range cases {
		dir := filepath.Dir(c)
		name := filepath.Base(dir)
		stub := stubModule(t, dir)
		after := readMod(t, filepath.Join(dir, "go.mod.after"))
		target := movedTo(after)
		ctx := testutil.Context(t, 15*time.Minute)
		r, err := CheckDeps(ctx, filepath.Join(stub, "go.mod"), DepsOptions{Catalog: cat})
		testutil.Must(t, err, name)
		start := time.Now()
		sim, err := Simulate(ctx, r, target, SimulateOptions{})
		if err != nil && strings.Contains(err.Error(), "403 Forbidden") {
			// The proxy this machine reaches refuses a module of the
			// case's graph: the case cannot be replayed here.
			lines = append(lines, fmt.Sprintf("%-28s -> %-8s UNAVAILABLE: %s", name, target, firstLine(err.Error())))
			unavailable++
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := changes(readMod(t, filepath.Join(dir, "go.mod.before")), after)
		if legacyMove(sim, want) {
			// The commit changed the imports by hand (etcd's pre-3.5
			// module to client/v3): no go get does that, and the
			// prediction must say so rather than guess.
			lines = append(lines, fmt.Sprintf("%-28s -> %-8s imports changed by hand; the prediction refuses it as such (legacy conflict)", name, target))
			codeMoves++
			continue
		}
		got := map[string]string{}
		for _, x := range append(append(sim.Raises, sim.New...), sim.Removed...) {
			got[x.Path] = x.To
		}
		var missed, extra []string
		k := 0
		for p, v := range want {
			if g, ok := got[p]; ok && g == v {
				k++
			} else {
				missed = append(missed, fmt.Sprintf("%s %s (predicted %q)", p, orRemoved(v), got[p]))
			}
		}
		for p, v := range got {
			if _, ok := want[p]; !ok {
				extra = append(extra, p+" "+orRemoved(v))
			}
		}
		sort.Strings(missed)
		sort.Strings(extra)
		real, predicted, matched = real+len(want), predicted+len(got), matched+k
		line := fmt.Sprintf("%-28s -> %-8s %2d changes, %2d predicted, %2d right (%s)", name, target, len(want), len(got), k, time.Since(start).Round(time.Second))
		if sim.Method != MethodGo {
			line += " [" + sim.Method + "]"
		}
		for _, m := range missed {
			line += "\n    missed " + m
		}
		for _, e := range extra {
			line += "\n    extra  " + e
		}
		if len(missed)+len(extra) > 0 {
			// The oracle: is the commit's own go.mod what go mod tidy
			// leaves? When it is not, the commit was not go get plus
			// tidy (a hand edit, no tidy), and the prediction is Go's.
			if why := untidy(ctx, t, dir); why != "" {
				line += "\n    the commit's own go.mod, with the parent's imports, is not what go mod tidy leaves: " + why
				untidyCases++
			} else {
				differing++
			}
		}
		for _, cf := range sim.Conflicts {
			if cf.Blocking {
				// The commit made this move and it built: nothing in it
				// may be called blocking.
				line += "\n    BLOCKING " + cf.Kind + ": " + cf.Message
				t.Errorf("%s: a move that happened for real is called blocking: %s", name, cf.Message)
			}
		}
		lines = append(lines, line)
	}
	t.Logf("deps check --to on %d real moves (%d unavailable here, %d import changes named as such):\n%s\nTOTAL: %d requirement changes in the commits, %d predicted, %d right: recall %.1f%%, precision %.1f%%; cases that differ: %d where the commit's own go.mod is not what go mod tidy leaves, %d others",
		len(cases), unavailable, codeMoves, strings.Join(lines, "\n"), real, predicted, matched, pct(matched, real), pct(matched, predicted), untidyCases, differing)
	if differing > 0 {
		t.Errorf("%d cases differ from a commit whose go.mod go mod tidy leaves as it is", differing)
	}
	// The floor measured when the corpus went in; raise it, never lower it.
	if pct(matched, real) < 95 {
		t.Errorf("recall %.1f%% fell below the 95%% floor", pct(matched, real))
	}
}

// legacyMove: the commit dropped etcd's pre-3.5 module, and the
// prediction named the move a legacy conflict.
func legacyMove(sim *Simulation, want map[string]string) bool {
	for _, c := range sim.Conflicts {
		if v, ok := want[c.Path]; c.Kind == "legacy" && ok && v == "" {
			return true
		}
	}
	return false
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func orRemoved(v string) string {
	if v == "" {
		return "removed"
	}
	return v
}

func readMod(t *testing.T, path string) *modfile.File {
	b, err := os.ReadFile(path)
	testutil.Must(t, err)
	mf, err := modfile.Parse(path, b, nil)
	testutil.Must(t, err)
	return mf
}

// movedTo is the release the commit moved the etcd modules to.
func movedTo(mf *modfile.File) string {
	for _, q := range mf.Require {
		if q.Mod.Path == "go.etcd.io/etcd/client/v3" || q.Mod.Path == "go.etcd.io/etcd/v3" || q.Mod.Path == "go.etcd.io/etcd/server/v3" || q.Mod.Path == "go.etcd.io/etcd/api/v3" {
			return strings.TrimPrefix(q.Mod.Version, "v")
		}
	}
	return ""
}

// changes maps each requirement the commit changed to its new version
// ("" when removed).
func changes(before, after *modfile.File) map[string]string {
	b, a := map[string]string{}, map[string]string{}
	for _, q := range before.Require {
		b[q.Mod.Path] = q.Mod.Version
	}
	for _, q := range after.Require {
		a[q.Mod.Path] = q.Mod.Version
	}
	out := map[string]string{}
	for p, v := range a {
		if b[p] != v {
			out[p] = v
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out[p] = ""
		}
	}
	return out
}

// untidy runs go mod tidy on the commit's own go.mod (in a stub of the
// module importing what the code imported at the parent) and says how
// tidy changes or refuses it; "" when tidy leaves its requirements as
// they are.
func untidy(ctx context.Context, t *testing.T, dir string) string {
	stub := stubModule(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, "go.mod.after"))
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(filepath.Join(stub, "go.mod"), b, 0o644))
	cmd := exec.CommandContext(ctx, "go", "mod", "tidy")
	cmd.Dir = stub
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := strings.Join(strings.Fields(string(out)), " ")
		if i := strings.Index(msg, "ambiguous import"); i >= 0 {
			msg = msg[i:]
		}
		if len(msg) > 160 {
			msg = msg[:160] + "..."
		}
		return "go mod tidy of it fails: " + msg
	}
	d := changes(readMod(t, filepath.Join(dir, "go.mod.after")), readMod(t, filepath.Join(stub, "go.mod")))
	var diffs []string
	for p, v := range d {
		diffs = append(diffs, p+" "+orRemoved(v))
	}
	sort.Strings(diffs)
	if len(diffs) == 0 {
		return ""
	}
	return "go mod tidy of it gives " + strings.Join(diffs, ", ")
}

// stubModule writes the case's module as go mod tidy sees it: its go.mod
// and go.sum, and one package importing what its code imported (tests'
// imports in a test file).
func stubModule(t *testing.T, dir string) string {
	stub := filepath.Join(t.TempDir(), filepath.Base(dir))
	testutil.Must(t, os.MkdirAll(stub, 0o755))
	for from, to := range map[string]string{"go.mod.before": "go.mod", "go.sum.before": "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, from))
		testutil.Must(t, err)
		testutil.Must(t, os.WriteFile(filepath.Join(stub, to), b, 0o644))
	}
	writeStub(t, stub, filepath.Join(dir, "imports.txt"))
	return stub
}

// writeStub writes a package into the module directory dir that imports
// what imports.txt lists (a test file for its "test " lines): the
// module's import graph as go mod tidy reads it.
func writeStub(t *testing.T, dir, imports string) {
	b, err := os.ReadFile(imports)
	testutil.Must(t, err)
	var code, tests strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if p, ok := strings.CutPrefix(l, "test "); ok {
			fmt.Fprintf(&tests, "\t_ %q\n", p)
		} else if l != "" {
			fmt.Fprintf(&code, "\t_ %q\n", l)
		}
	}
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "stub.go"), []byte("// Package stub imports what the module's code imported.\npackage stub\n\nimport (\n"+code.String()+")\n"), 0o644))
	if tests.Len() > 0 {
		testutil.Must(t, os.WriteFile(filepath.Join(dir, "stub_test.go"), []byte("package stub\n\nimport (\n"+tests.String()+")\n"), 0o644))
	}
}
