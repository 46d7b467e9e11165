package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goversion "go/version"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Simulation is what moving a go.mod's etcd modules to another release
// would do, without touching the tree: predicted by the go command in a
// copy of the module (MethodGo), or, for a go.mod without Go code beside
// it, computed from etcd's own go.mod files (MethodGoMod).
type Simulation struct {
	Target string `json:"target"`
	// Method says how it was computed; Commands what ran (MethodGo).
	Method   string   `json:"method"`
	Commands []string `json:"commands,omitempty"`
	// Go is the go directive before and after (equal when it stays).
	GoFrom string `json:"goFrom,omitempty"`
	GoTo   string `json:"goTo,omitempty"`
	// Raises are the project's requirements minimum version selection
	// would raise; New are modules the target needs that the project
	// does not require yet.
	Raises    []Raise    `json:"raises"`
	New       []Raise    `json:"new,omitempty"`
	Removed   []Raise    `json:"removed,omitempty"`
	Conflicts []Conflict `json:"conflicts"`
	// Applied is the real upgrade in a copy (--apply).
	Applied *Applied `json:"applied,omitempty"`
}

// Raise is one requirement that moves.
type Raise struct {
	Path string `json:"path"`
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// Size is patch, minor, major, or new.
	Size string `json:"size"`
}

// Conflict is something in the project the target release collides with.
type Conflict struct {
	// Kind: replace, exclude, go, not-provided.
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Blocking conflicts stop the upgrade until someone acts (a replace
	// or exclude below the need, a module no longer published); the
	// others say what it changes (the go directive, a local replace).
	Blocking bool `json:"blocking"`
}

// Blocking says whether the upgrade cannot just be done: a blocking
// conflict, or a copy that did not build.
func (sim *Simulation) Blocking() bool {
	for _, c := range sim.Conflicts {
		if c.Blocking {
			return true
		}
	}
	return sim.Applied != nil && !sim.Applied.BuildOK
}

// Applied is the outcome of the real upgrade: done in a copy of the
// module, and when it built there, written back into the module (or into
// --out) and built again where it was written.
type Applied struct {
	// Dir is where the moved module is: the module itself or --out once
	// written, else the scratch copy (kept for reading).
	Dir     string `json:"dir"`
	Diff    string `json:"diff"`
	BuildOK bool   `json:"buildOK"`
	Output  string `json:"output,omitempty"`
	// Written lists the files (or the --out directory) written; empty
	// when nothing was.
	Written []string `json:"written"`
	Notes   []string `json:"notes,omitempty"`
}

// The ways a simulation is computed.
const (
	MethodGo    = "go get + go mod tidy in a copy"
	MethodGoMod = "etcd's go.mod files (no Go code beside the go.mod)"
)

// SimulateOptions tune Simulate.
type SimulateOptions struct {
	// Apply runs go get and go mod tidy in a copy of the module and go
	// build ./... there; when it builds, the module's go.mod and go.sum
	// are replaced by the copy's (or the copy is written to Out).
	Apply bool
	// Out, with Apply, is a new directory for the moved module instead.
	Out string
	// Go is the go command (default "go").
	Go string
}

// targetPath is the module path and version a lockstep module has at
// etcd release x, or "" when x does not publish it.
func targetVersion(path, x string) string {
	minor, patch, _ := strings.Cut(strings.TrimPrefix(x, "3."), ".")
	switch path {
	case "go.etcd.io/etcd/client/v2":
		// v2.304.N for 3.4.N, v2.305.N for 3.5.N; 3.6 stopped publishing it.
		if minor != "4" && minor != "5" {
			return ""
		}
		return "v2.30" + minor + "." + patch
	case "go.etcd.io/etcd/raft/v3":
		// 3.5 only: raft is go.etcd.io/raft/v3 from 3.6 on.
		if minor != "5" {
			return ""
		}
	}
	return "v" + x
}

// moved says where a module went when a release stopped publishing it.
var moved = map[string]string{
	"go.etcd.io/etcd/raft/v3":   "etcd 3.6 moved raft to its own module, go.etcd.io/raft/v3: change the imports",
	"go.etcd.io/etcd/client/v2": "etcd 3.6 no longer publishes the v2 client (the v2 API is gone): move its callers to go.etcd.io/etcd/client/v3",
}

// downloaded is what go mod download -json says of one module.
type downloaded struct {
	Path, Version, GoMod, Dir, Error string
	// Sum and GoModSum are the go.sum hashes of the module and of its
	// go.mod (checked against the checksum database unless GONOSUMDB or
	// GOFLAGS say otherwise).
	Sum, GoModSum string
}

// download fetches modules' go.mod files through the module proxy.
func download(ctx context.Context, gobin string, mods []string) ([]downloaded, error) {
	scratch, err := os.MkdirTemp("", "etcdpilot-deps-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, append([]string{"mod", "download", "-json"}, mods...)...)
	cmd.Dir = scratch
	cmd.Env = goEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var res []downloaded
	dec := json.NewDecoder(&out)
	for {
		var d downloaded
		if err := dec.Decode(&d); err != nil {
			break
		}
		res = append(res, d)
	}
	if len(res) == 0 && runErr != nil {
		return nil, fmt.Errorf("go mod download: %v: %s", runErr, strings.TrimSpace(errb.String()))
	}
	ok := false
	for _, d := range res {
		ok = ok || d.Error == ""
	}
	if !ok {
		var errs []string
		for _, d := range res {
			errs = append(errs, d.Error)
		}
		if network(strings.Join(errs, " ")) {
			return nil, fmt.Errorf("the module proxy cannot be reached (%s): the simulation needs it (GOPROXY); the offline checks above still ran", firstLine(strings.Join(errs, "; ")))
		}
	}
	return res, nil
}

func network(s string) bool {
	for _, w := range []string{"dial tcp", "no such host", "connection refused", "i/o timeout", "GOPROXY=off", "network is unreachable", "TLS handshake"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Simulate computes what moving the go.mod's etcd modules to release x
// would change and where it would collide. A module with Go code is moved
// by the go command in a copy (predict); a bare go.mod is compared with
// the go.mod files etcd x's modules publish (minimum version selection
// takes the highest version any of them requires). It never touches the
// tree; with Apply it also builds the moved copy.
func Simulate(ctx context.Context, r *DepsReport, x string, o SimulateOptions) (*Simulation, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	legacy := legacyConflicts(r, x)
	if hasGoFiles(filepath.Dir(r.GoMod)) {
		sim, err := predict(ctx, r, x, o)
		if sim != nil {
			sim.Conflicts = append(legacy, sim.Conflicts...)
		}
		return sim, err
	}
	mf, err := readModFile(r.GoMod)
	if err != nil {
		return nil, err
	}
	sim := &Simulation{Target: x, Method: MethodGoMod, Raises: []Raise{}, Conflicts: append([]Conflict{}, legacy...)}
	var mods []string
	wanted := map[string]string{} // module -> version at x
	for _, m := range r.EtcdModules {
		if m.Set != SetLockstep || m.LocalReplace {
			continue
		}
		v := targetVersion(m.Path, x)
		if v == "" {
			// Without the module's code, an indirect requirement is most
			// likely a leftover go mod tidy drops; a direct one is
			// imported.
			c := Conflict{Kind: "not-provided", Path: m.Path, Blocking: !indirectReq(mf, m.Path), Message: fmt.Sprintf("%s has no release for etcd %s: %s", m.Path, x, moved[m.Path])}
			if !c.Blocking {
				c.Message = fmt.Sprintf("%s has no release for etcd %s; it is only an indirect requirement, which go mod tidy drops unless a package imports it (run deps check beside the module's code to know)", m.Path, x)
			}
			sim.Conflicts = append(sim.Conflicts, c)
			continue
		}
		wanted[m.Path] = v
		mods = append(mods, m.Path+"@"+v)
	}
	if len(mods) == 0 {
		return sim, nil
	}
	sort.Strings(mods)
	got, err := download(ctx, o.Go, mods)
	if err != nil {
		return nil, err
	}
	need := map[string]string{} // MVS: the highest version any etcd module requires
	goNeed := ""
	for _, d := range got {
		if d.Error != "" {
			why := moved[d.Path]
			if why == "" {
				why = "the module proxy says: " + firstLine(d.Error)
			}
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "not-provided", Path: d.Path, Blocking: true, Message: fmt.Sprintf("%s %s is not published: %s", d.Path, d.Version, why)})
			continue
		}
		emf, err := readModFile(d.GoMod)
		if err != nil {
			return nil, fmt.Errorf("%s@%s's go.mod: %w", d.Path, d.Version, err)
		}
		if emf.Go != nil && (goNeed == "" || goversion.Compare("go"+emf.Go.Version, "go"+goNeed) > 0) {
			goNeed = emf.Go.Version
		}
		for _, q := range emf.Require {
			if _, self := wanted[q.Mod.Path]; self || lockstepPaths[q.Mod.Path] {
				continue
			}
			if cur, ok := need[q.Mod.Path]; !ok || semver.Compare(q.Mod.Version, cur) > 0 {
				need[q.Mod.Path] = q.Mod.Version
			}
		}
	}
	sim.compare(mf, need, goNeed)
	if o.Apply {
		a, err := apply(ctx, o.Go, filepath.Dir(r.GoMod), wanted)
		if err != nil {
			return sim, err
		}
		sim.Applied = a
	}
	return sim, nil
}

func indirectReq(mf *modfile.File, path string) bool {
	for _, q := range mf.Require {
		if q.Mod.Path == path {
			return q.Indirect
		}
	}
	return false
}

// legacyConflicts: etcd's pre-3.5 module path cannot be moved to 3.5 or
// later by go get; the imports change (go.etcd.io/etcd/clientv3 becomes
// go.etcd.io/etcd/client/v3), then go mod tidy follows them.
func legacyConflicts(r *DepsReport, x string) []Conflict {
	var out []Conflict
	if minor, _, _ := strings.Cut(strings.TrimPrefix(x, "3."), "."); minor < "5" && len(minor) == 1 {
		return nil
	}
	for _, m := range r.EtcdModules {
		if m.Set == SetLegacy {
			out = append(out, Conflict{Kind: "legacy", Path: m.Path, Blocking: true,
				Message: fmt.Sprintf("%s %s is etcd's pre-3.5 module: etcd %s is published as go.etcd.io/etcd/client/v3, api/v3, server/v3 and the others, so the imports change (go.etcd.io/etcd/clientv3 becomes go.etcd.io/etcd/client/v3); go get cannot make that move: change the imports, then run go mod tidy", m.Path, m.Version, x)})
		}
	}
	return out
}

// compare sets the raises and conflicts of the project against what the
// target needs.
func (sim *Simulation) compare(mf *modfile.File, need map[string]string, goNeed string) {
	req := map[string]string{}
	for _, q := range mf.Require {
		req[q.Mod.Path] = q.Mod.Version
	}
	var paths []string
	for p := range need {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		v := need[p]
		cur, has := req[p]
		switch {
		case !has:
			sim.New = append(sim.New, Raise{Path: p, To: v, Size: "new"})
		case semver.Compare(v, cur) > 0:
			sim.Raises = append(sim.Raises, Raise{Path: p, From: cur, To: v, Size: size(cur, v)})
		}
		for _, rp := range mf.Replace {
			if rp.Old.Path != p || (rp.Old.Version != "" && rp.Old.Version != cur) {
				continue
			}
			switch {
			case rp.New.Version == "":
				sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "replace", Path: p, Message: fmt.Sprintf("replace %s => %s (a directory) decides what is built; etcd %s needs %s %s or later from it: replaced, not checked", p, rp.New.Path, sim.Target, p, v)})
			case semver.Compare(rp.New.Version, v) < 0:
				sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "replace", Path: p, Blocking: true, Message: fmt.Sprintf("replace %s => %s %s pins it below the %s etcd %s needs: raise or drop the replace", p, rp.New.Path, rp.New.Version, v, sim.Target)})
			}
		}
		for _, ex := range mf.Exclude {
			if ex.Mod.Path == p && ex.Mod.Version == v {
				sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "exclude", Path: p, Blocking: true, Message: fmt.Sprintf("exclude %s %s removes the version etcd %s needs", p, v, sim.Target)})
			}
		}
	}
	if mf.Go != nil {
		sim.GoFrom = mf.Go.Version
	}
	sim.GoTo = sim.GoFrom
	if goNeed != "" && (sim.GoFrom == "" || goversion.Compare("go"+goNeed, "go"+sim.GoFrom) > 0) {
		sim.GoTo = goNeed
		sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "go", Message: fmt.Sprintf("the go directive %s is below etcd %s's go %s: the upgrade raises it, and builders need Go %s or later", orNoneGo(sim.GoFrom), sim.Target, goNeed, goNeed)})
	}
}

func orNoneGo(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// size classifies a version change.
func size(from, to string) string {
	switch {
	case semver.Major(from) != semver.Major(to):
		return "major"
	case semver.MajorMinor(from) != semver.MajorMinor(to):
		return "minor"
	}
	return "patch"
}

// apply copies the module directory, runs go get for the lockstep set and
// go mod tidy there, and reports the go.mod diff and whether it builds.
func apply(ctx context.Context, gobin, dir string, wanted map[string]string) (*Applied, error) {
	work, err := os.MkdirTemp("", "etcdpilot-deps-apply-")
	if err != nil {
		return nil, err
	}
	copyDir := filepath.Join(work, filepath.Base(dir))
	if err := copyTree(dir, copyDir); err != nil {
		return nil, err
	}
	a := &Applied{Dir: copyDir, Written: []string{},
		Notes: []string{"no Go code beside the go.mod: the move is not written (go mod tidy would drop every requirement it holds)"}}
	run := func(args ...string) (string, error) { return runGo(ctx, gobin, copyDir, args...) }
	var gets []string
	for p, v := range wanted {
		gets = append(gets, p+"@"+v)
	}
	sort.Strings(gets)
	for _, step := range [][]string{append([]string{"get"}, gets...), {"mod", "tidy"}} {
		if out, err := run(step...); err != nil {
			a.Output = fmt.Sprintf("go %s: %v\n%s", strings.Join(step, " "), err, tail(out, 40))
			a.Diff = diffFiles(filepath.Join(dir, "go.mod"), filepath.Join(copyDir, "go.mod"))
			return a, nil
		}
	}
	a.Diff = diffFiles(filepath.Join(dir, "go.mod"), filepath.Join(copyDir, "go.mod"))
	out, err := run("build", "./...")
	a.BuildOK = err == nil
	a.Output = tail(out, 40)
	return a, nil
}

// diffFiles is diff -u of two files (diffutils).
func diffFiles(a, b string) string {
	return diffLabeled(a, b, "go.mod", "go.mod (after)")
}

// diffLabeled is diff -u of files a and b, shown as la and lb.
func diffLabeled(a, b, la, lb string) string {
	out, err := exec.Command("diff", "-u", "--label", la, "--label", lb, a, b).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return fmt.Sprintf("(diff failed: %v: %s)", err, out)
	}
	return string(out)
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = append([]string{"..."}, ls[len(ls)-n:]...)
	}
	return strings.Join(ls, "\n")
}

// copyTree copies a module's files, without vendor/, .git and
// node_modules.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == "vendor" || d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return fsutil.CopyFile(p, target, 0o644, true)
	})
}
