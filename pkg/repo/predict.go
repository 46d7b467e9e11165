package repo

import (
	"context"
	"fmt"
	goversion "go/version"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// hasGoFiles reports whether the module in dir has Go code of its own
// (a package beside go.mod or below it, outside nested modules): without
// it, go mod tidy would drop every requirement and predict nothing.
func hasGoFiles(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		if d.IsDir() {
			n := d.Name()
			if p != dir && (n == "vendor" || n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		found = strings.HasSuffix(d.Name(), ".go")
		return nil
	})
	return found
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// predict moves the module to etcd release x with the go command itself,
// in a scratch copy of the module: go get of the etcd modules it requires
// directly that x publishes, then go mod tidy, with the user's GOPROXY,
// GOPRIVATE, GONOSUMDB and GOFLAGS. The simulation is the difference
// between the go.mod files: raised, added and removed requirements, the go
// directive; a module x no longer publishes is a conflict only when a
// package of the module still imports it. With Apply, go build ./... runs
// in the copy, and the move is written back when it builds (see land).
func predict(ctx context.Context, r *DepsReport, x string, o SimulateOptions) (*Simulation, error) {
	m, err := newMove(r, x, o)
	if err != nil || m.idle() {
		return m.simulation(), err
	}
	work, err := os.MkdirTemp("", "etcdpilot-deps-")
	if err != nil {
		return nil, err
	}
	keep := false // a copy that did not build stays for the user to read
	defer func() {
		if !keep {
			os.RemoveAll(work)
		}
	}()
	m.cp = filepath.Join(work, filepath.Base(m.dir))
	if err := copyTree(m.dir, m.cp); err != nil {
		return nil, err
	}
	if err := absReplaces(filepath.Join(m.cp, "go.mod"), m.dir, ""); err != nil {
		return nil, err
	}
	if err := m.run(ctx); err != nil {
		return nil, err
	}
	if err := m.judge(ctx); err != nil {
		return nil, err
	}
	sim := m.sim
	if o.Apply {
		out, err := m.goCmd(ctx, "build", "./...")
		a := &Applied{Dir: m.cp, Diff: diffFiles(r.GoMod, filepath.Join(m.cp, "go.mod")), BuildOK: err == nil, Output: tail(out, 40), Written: []string{}}
		sim.Applied = a
		if a.BuildOK && !sim.Blocking() {
			if err := land(ctx, o, a, m.dir, m.cp, m.was); err != nil {
				return sim, err
			}
		}
		keep = a.Dir == m.cp
	}
	return sim, nil
}

// move is one module's move to an etcd release in a scratch copy.
type move struct {
	r       *DepsReport
	x       string
	o       SimulateOptions
	dir, cp string // the module's directory (absolute) and its copy
	before  *modfile.File
	was     map[string][]byte // go.mod and go.sum as they were
	gets    []string          // module@version for go get
	gone    []string          // etcd modules x no longer publishes
	sim     *Simulation
}

// newMove reads the module and plans the move: go get names the etcd
// modules the module requires directly, as a person (or Dependabot)
// does; minimum version selection raises the indirect ones with them. A
// module with only indirect etcd requirements gets them all.
func newMove(r *DepsReport, x string, o SimulateOptions) (*move, error) {
	if _, err := exec.LookPath(o.Go); err != nil {
		return nil, fmt.Errorf("deps check --to runs the go command (go get, go mod tidy) and finds no %q on PATH: install Go, or leave out --to (the offline checks above ran)", o.Go)
	}
	dir, err := filepath.Abs(filepath.Dir(r.GoMod))
	if err != nil {
		return nil, err
	}
	m := &move{r: r, x: x, o: o, dir: dir, sim: &Simulation{Target: x, Method: MethodGo, Raises: []Raise{}, Conflicts: []Conflict{}}}
	if m.before, err = readModFile(r.GoMod); err != nil {
		return nil, err
	}
	if m.was, err = readModuleFiles(dir); err != nil {
		return nil, err
	}
	indirect := map[string]bool{}
	for _, q := range m.before.Require {
		indirect[q.Mod.Path] = q.Indirect
	}
	var all []string
	for _, em := range r.EtcdModules {
		if em.Set != SetLockstep || em.LocalReplace {
			continue
		}
		v := targetVersion(em.Path, x)
		switch {
		case v == "":
			m.gone = append(m.gone, em.Path)
		case !indirect[em.Path]:
			m.gets = append(m.gets, em.Path+"@"+v)
		default:
			all = append(all, em.Path+"@"+v)
		}
	}
	if len(m.gets) == 0 {
		m.gets = all
	}
	sort.Strings(m.gets)
	if len(m.gets) > 0 && excludedTargets(m.sim, m.before, m.gets) {
		m.gets = nil
	}
	return m, nil
}

// idle says there is nothing to move (or an exclude stops the move).
func (m *move) idle() bool { return m == nil || len(m.gets) == 0 }

func (m *move) simulation() *Simulation {
	if m == nil {
		return nil
	}
	return m.sim
}

func (m *move) goCmd(ctx context.Context, args ...string) (string, error) {
	return runGo(ctx, m.o.Go, m.cp, args...)
}

// run does go get, then go mod tidy, in the copy.
func (m *move) run(ctx context.Context) error {
	m.sim.Commands = append(m.sim.Commands, "go get "+strings.Join(m.gets, " "))
	if out, err := m.goCmd(ctx, append([]string{"get"}, m.gets...)...); err != nil {
		return goError("go get "+strings.Join(m.gets, " "), out, err)
	}
	return m.tidy(ctx)
}

// tidy runs go mod tidy in the copy; a failure that is not the network's
// is a blocking conflict (the move leaves the module untidy).
func (m *move) tidy(ctx context.Context) error {
	cmd, out, err := tidyCompat(func(args ...string) (string, error) { return m.goCmd(ctx, args...) }, m.before)
	m.sim.Commands = append(m.sim.Commands, cmd)
	if err != nil {
		if network(out) {
			return goError("go mod tidy", out, err)
		}
		m.sim.Conflicts = append(m.sim.Conflicts, Conflict{Kind: "tidy", Blocking: true,
			Message: fmt.Sprintf("go mod tidy fails after the move: %s", tail(strings.TrimSpace(out), 12))})
	}
	return nil
}

// tidyCompat runs go mod tidy through run. A module whose go directive
// keeps checking an older Go's selection fails on what that Go "would
// select": then it runs once more with -compat at the directive, as the go
// command says to when reproducibility with that Go is not needed. cmd is
// the command that ran last.
func tidyCompat(run func(args ...string) (string, error), before *modfile.File) (cmd, out string, err error) {
	cmd = "go mod tidy"
	out, err = run("mod", "tidy")
	if err != nil && strings.Contains(out, "would select") && before.Go != nil {
		compat := "-compat=" + before.Go.Version
		cmd += " " + compat
		out, err = run("mod", "tidy", compat)
	}
	return cmd, out, err
}

// judge compares the copy's go.mod with the module's: raises, additions,
// removals, the replace and exclude lines, and the modules x no longer
// publishes, judged by what imports them.
func (m *move) judge(ctx context.Context) error {
	after, err := readModFile(filepath.Join(m.cp, "go.mod"))
	if err != nil {
		return err
	}
	sim := m.sim
	sim.diff(m.before, after)
	sim.replaced(m.before, after)
	if len(m.gone) == 0 {
		return nil
	}
	// go mod tidy keeps every module that provides a package the module
	// imports: a gone module it dropped is imported by nothing, and only
	// the ones it kept need go list to say who imports them.
	var kept []string
	for _, p := range m.gone {
		if !removed(sim, p) {
			kept = append(kept, p)
		}
	}
	importers := map[string][]string{}
	if len(kept) > 0 {
		if importers, err = importersOf(ctx, m.o.Go, m.cp, kept); err != nil {
			return err
		}
	}
	for _, p := range m.gone {
		if pkgs := importers[p]; len(pkgs) > 0 {
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "not-provided", Path: p, Blocking: true,
				Message: fmt.Sprintf("%s has no release for etcd %s, and %s imports it: %s", p, m.x, strings.Join(pkgs, ", "), moved[p])})
		} else if removed(sim, p) {
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "dropped", Path: p,
				Message: fmt.Sprintf("%s has no release for etcd %s; nothing here imports it, so go mod tidy drops it", p, m.x)})
		}
	}
	return nil
}

// goError names what the go command needs when it fails for want of the
// network or a private module's access.
func goError(what, out string, err error) error {
	switch {
	case network(out):
		return fmt.Errorf("the module proxy cannot be reached (%s): the prediction runs %s and needs it (GOPROXY); the offline checks above still ran", firstLine(lastError(out)), what)
	case strings.Contains(out, "410 Gone") || strings.Contains(out, "404 Not Found") || strings.Contains(out, "403 Forbidden") || strings.Contains(out, "terminal prompts disabled") || strings.Contains(out, "verifying module"):
		return fmt.Errorf("%s: %v: %s (a private module? set GOPRIVATE for it, and GONOSUMDB)", what, err, firstLine(lastError(out)))
	}
	return fmt.Errorf("%s: %v: %s", what, err, tail(strings.TrimSpace(out), 12))
}

// lastError is the go command's last "go: " line, else its last line.
func lastError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "go: ") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// absReplaces makes the copy's directory replacements point where the
// original's do; those inside root (a tree copied whole) stay relative,
// so that they name the moved copies.
func absReplaces(gomod, origDir, root string) error {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	mf, err := modfile.Parse(gomod, b, nil)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range mf.Replace {
		if r.New.Version == "" && !filepath.IsAbs(r.New.Path) {
			target := filepath.Join(origDir, r.New.Path)
			if root != "" && within(root, target) {
				continue
			}
			if err := mf.AddReplace(r.Old.Path, r.Old.Version, target, ""); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := mf.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(gomod, out, 0o644)
}

// within says whether p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// diff sets the raised, added and removed requirements and the go
// directive from the go.mod files before and after.
func (sim *Simulation) diff(before, after *modfile.File) {
	req := func(mf *modfile.File) map[string]string {
		m := map[string]string{}
		for _, q := range mf.Require {
			m[q.Mod.Path] = q.Mod.Version
		}
		return m
	}
	b, a := req(before), req(after)
	for _, p := range slices.Sorted(maps.Keys(a)) {
		from, had := b[p]
		switch {
		case !had:
			sim.New = append(sim.New, Raise{Path: p, To: a[p], Size: "new"})
		case from != a[p]:
			sim.Raises = append(sim.Raises, Raise{Path: p, From: from, To: a[p], Size: size(from, a[p])})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(b)) {
		if _, kept := a[p]; !kept {
			sim.Removed = append(sim.Removed, Raise{Path: p, From: b[p], Size: "removed"})
		}
	}
	if before.Go != nil {
		sim.GoFrom = before.Go.Version
	}
	sim.GoTo = sim.GoFrom
	if after.Go != nil {
		sim.GoTo = after.Go.Version
	}
	if sim.GoTo != sim.GoFrom && (sim.GoFrom == "" || goversion.Compare("go"+sim.GoTo, "go"+sim.GoFrom) > 0) {
		sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "go", Message: fmt.Sprintf("the go directive %s rises to %s: builders need Go %s or later", orNoneGo(sim.GoFrom), sim.GoTo, sim.GoTo)})
	}
}

// replaced names the replace lines that now hold a module below what the
// move requires (the build uses the replacement, not the requirement),
// and the version-specific ones that no longer apply.
func (sim *Simulation) replaced(before, after *modfile.File) {
	need := map[string]string{}
	for _, q := range after.Require {
		need[q.Mod.Path] = q.Mod.Version
	}
	for _, rp := range before.Replace {
		v, ok := need[rp.Old.Path]
		if !ok {
			continue
		}
		switch {
		case rp.New.Version == "":
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "replace", Path: rp.Old.Path, Message: fmt.Sprintf("replace %s => %s (a directory) decides what is built; the move requires %s %s: replaced, not checked", rp.Old.Path, rp.New.Path, rp.Old.Path, v)})
		case rp.Old.Version != "" && rp.Old.Version != v:
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "replace", Path: rp.Old.Path, Message: fmt.Sprintf("replace %s %s => %s %s no longer applies: the move requires %s", rp.Old.Path, rp.Old.Version, rp.New.Path, rp.New.Version, v)})
		case semver.Compare(base(rp.New.Version), base(v)) < 0:
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "replace", Path: rp.Old.Path, Blocking: true, Message: fmt.Sprintf("replace %s => %s %s holds it below the %s the move requires: raise or drop the replace", rp.Old.Path, rp.New.Path, rp.New.Version, v)})
		}
	}
	for _, ex := range before.Exclude {
		if v, ok := need[ex.Mod.Path]; ok && semver.Compare(ex.Mod.Version, v) >= 0 {
			sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "exclude", Path: ex.Mod.Path, Message: fmt.Sprintf("exclude %s %s: the move requires %s, so a later raise may land on the excluded version and skip past it", ex.Mod.Path, ex.Mod.Version, v)})
		}
	}
}

// excludedTargets names an exclude of a version the move asks go get
// for: go get refuses it ("excluded by go.mod"), so nothing more can be
// predicted until the exclude goes.
func excludedTargets(sim *Simulation, before *modfile.File, gets []string) bool {
	found := false
	for _, g := range gets {
		path, v, _ := strings.Cut(g, "@")
		for _, ex := range before.Exclude {
			if ex.Mod.Path == path && ex.Mod.Version == v {
				sim.Conflicts = append(sim.Conflicts, Conflict{Kind: "exclude", Path: path, Blocking: true,
					Message: fmt.Sprintf("exclude %s %s removes the version the move targets (go get answers \"excluded by go.mod\"): drop the exclude, or choose another release", path, v)})
				found = true
			}
		}
	}
	return found
}

// base is a version without its pre-release or build suffix: a fork's
// v3.6.6-k3s1 carries v3.6.6.
func base(v string) string {
	c := semver.Canonical(v)
	if i := strings.IndexAny(c, "-+"); i > 0 {
		return c[:i]
	}
	return c
}

func removed(sim *Simulation, path string) bool {
	for _, r := range sim.Removed {
		if r.Path == path {
			return true
		}
	}
	return false
}

// importersOf lists, for each module path, the module's packages (code or
// tests) that import a package of it.
func importersOf(ctx context.Context, gobin, dir string, mods []string) (map[string][]string, error) {
	cmd := exec.CommandContext(ctx, gobin, "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list ./... in a copy of the module: %v", err)
	}
	res := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, m := range mods {
			for _, im := range f[1:] {
				if im == m || strings.HasPrefix(im, m+"/") {
					res[m] = append(res[m], f[0])
					break
				}
			}
		}
	}
	return res, nil
}

// runGo runs the go command in dir (goEnv; up to 15 minutes) and returns
// its output, standard error included.
func runGo(ctx context.Context, gobin, dir string, args ...string) (string, error) {
	return runGoEnv(ctx, gobin, dir, goEnv(), args...)
}

// runGoWork is runGo in the workspace of the go.work file gowork (where
// -mod=mod is refused).
func runGoWork(ctx context.Context, gobin, dir, gowork string, args ...string) (string, error) {
	return runGoEnv(ctx, gobin, dir, append(os.Environ(), "GO111MODULE=on", "GOWORK="+gowork), args...)
}

func runGoEnv(ctx context.Context, gobin, dir string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// goEnv is the user's environment for every go command deps check runs
// (proxy, private modules, checksum database, flags), in module mode with
// go.mod writable and no workspace.
func goEnv() []string {
	return append(os.Environ(), "GO111MODULE=on", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
}
