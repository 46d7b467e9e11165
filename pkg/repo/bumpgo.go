package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// goMove moves the etcd requirements of one go.mod the way Go moves them,
// as deps check --apply does: the replaces the text rewrite moved (a fork
// in etcd's place) stay moved, the requirements start again from what they
// were, and go get moves the etcd modules the module requires directly to
// the versions the rewrite chose (minimum version selection raises the
// rest, and go.sum gets their hashes); then go mod tidy, when the module
// has Go code in the tree. It runs in the module's directory on copies of
// go.mod and go.sum (-modfile), so nothing in the tree changes before
// writeAll. It returns the go.sum's change (nil when go.sum is as it was)
// and the pins go left as they were: indirect requirements that no moved
// module raises.
func goMove(ctx context.Context, gobin, dir string, c *FileChange, target string) (sum *FileChange, kept []LeftPin, err error) {
	modRel := filepath.Dir(c.File)
	modDir := filepath.Join(dir, modRel)
	var forks, reqs []Pin
	for _, p := range c.Pins {
		if p.Fork != "" {
			forks = append(forks, p)
		} else {
			reqs = append(reqs, p)
		}
	}
	start := c.old
	if len(forks) > 0 {
		fc, err := rewrite(dir, c.File, forks, target, "", nil)
		if err != nil {
			return nil, nil, err
		}
		start = fc.new
	}
	mf, err := modfile.Parse(c.File, c.old, nil)
	if err != nil {
		return nil, nil, err
	}
	indirect := map[string]bool{}
	for _, q := range mf.Require {
		indirect[q.Mod.Path] = q.Indirect
	}
	// A replaced module's requirement is raised only as far as the moved
	// replacements require it: the replace decides what is built. Where
	// the module has Go code, go mod tidy after the moved replace does
	// that; otherwise go get moves it as far as the fork releases' go.mod
	// files require, or, where they cannot be read, to the new version.
	var need map[string]string
	goCode := hasGoFiles(modDir)
	if !goCode {
		fc := *c
		fc.new = start
		need, _ = replacementNeeds(ctx, gobin, &fc)
	}
	var gets, all []string
	for _, p := range reqs {
		if replaced(mf, p.Module, p.Text) && (need != nil || goCode) {
			if v := need[p.Module]; semver.Compare(v, p.Text) > 0 {
				if semver.Compare(v, p.NewText) > 0 {
					v = p.NewText
				}
				gets = append(gets, p.Module+"@"+v)
			}
			continue
		}
		if !indirect[p.Module] {
			gets = append(gets, p.Module+"@"+p.NewText)
		}
		all = append(all, p.Module+"@"+p.NewText)
	}
	if len(gets) == 0 {
		gets = all
	}
	sort.Strings(gets)
	oldSum, err := readOptional(filepath.Join(modDir, "go.sum"))
	if err != nil {
		return nil, nil, err
	}
	var steps [][]string
	if len(gets) > 0 {
		steps = append(steps, append([]string{"get"}, gets...))
	}
	newMod, newSum, err := inModfile(ctx, gobin, modDir, start, oldSum, mf, steps...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, modRel)
	}
	after, err := modfile.Parse(c.File, newMod, nil)
	if err != nil {
		return nil, nil, err
	}
	now := map[string]string{}
	for _, q := range after.Require {
		now[q.Mod.Path] = q.Mod.Version
	}
	var moved []Pin
	for _, p := range c.Pins {
		switch v := now[p.Module]; {
		case p.Fork == "" && v == p.Text:
			kept = append(kept, keptBy(mf, p)) // go get left it
		case p.Fork == "" && v == "":
			// go mod tidy dropped the requirement: nothing pins it.
		default:
			moved = append(moved, p) // a fresh scan says where to
		}
	}
	c.Pins, c.new = moved, newMod
	if c.Diff, err = diffBytes(c.File, c.old, newMod); err != nil {
		return nil, nil, err
	}
	if oldSum == nil && len(newSum) > 0 {
		return nil, nil, fmt.Errorf("%s has no go.sum beside it, and the moved requirements need one: run go mod tidy there", c.File)
	}
	sum, err = changeOf(filepath.Join(modRel, "go.sum"), oldSum, newSum)
	return sum, kept, err
}

// keptBy says why the go command left p at its version.
func keptBy(mf *modfile.File, p Pin) LeftPin {
	if replaced(mf, p.Module, p.Text) {
		return LeftPin{p, fmt.Sprintf("a requirement at %s that a replace overrides: the build uses the moved replace, and no replacement's go.mod needs more, so go mod tidy leaves it (go get %s@%s moves it on purpose)", p.Text, p.Module, p.NewText)}
	}
	return LeftPin{p, fmt.Sprintf("an indirect requirement that go get left at %s: none of the modules it moved needs more (go get %s@%s moves it on purpose)", p.Text, p.Module, p.NewText)}
}

// replaced says whether a replace directive of mf applies to module at
// version: one for every version of it, or for that one.
func replaced(mf *modfile.File, module, version string) bool {
	for _, r := range mf.Replace {
		if r.Old.Path == module && (r.Old.Version == "" || r.Old.Version == version) {
			return true
		}
	}
	return false
}

// changeOf is the change of file from old to new: nil when it is the same
// or the file does not exist (a change replaces a file, never creates one).
func changeOf(file string, old, new []byte) (*FileChange, error) {
	if old == nil || bytes.Equal(old, new) {
		return nil, nil
	}
	d, err := diffBytes(file, old, new)
	if err != nil {
		return nil, err
	}
	return &FileChange{File: file, Pins: []Pin{}, Diff: d, old: old, new: new}, nil
}

func readOptional(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// inModfile runs the go command's steps in the module directory modDir on
// copies of its go.mod (mod) and go.sum (sum), then go mod tidy when the
// module has Go code in the tree (without it, tidy would drop every
// requirement), and returns the copies as the go command left them.
func inModfile(ctx context.Context, gobin, modDir string, mod, sum []byte, mf *modfile.File, steps ...[]string) (newMod, newSum []byte, err error) {
	tmp, err := os.MkdirTemp("", "etcdpilot-bump-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), mod, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o600); err != nil {
		return nil, nil, err
	}
	env := goEnvModfile(filepath.Join(tmp, "go.mod"))
	for _, args := range steps {
		if out, err := runGoEnv(ctx, gobin, modDir, env, args...); err != nil {
			return nil, nil, goError("go "+strings.Join(args, " "), out, err)
		}
	}
	if hasGoFiles(modDir) {
		cmd, out, err := tidyCompat(func(args ...string) (string, error) { return runGoEnv(ctx, gobin, modDir, env, args...) }, mf)
		if err != nil {
			return nil, nil, goError(cmd, out, err)
		}
	}
	if newMod, err = os.ReadFile(filepath.Join(tmp, "go.mod")); err != nil {
		return nil, nil, err
	}
	newSum, err = os.ReadFile(filepath.Join(tmp, "go.sum"))
	return newMod, newSum, err
}

// goEnvModfile is goEnv with go.mod and go.sum read and written at modfile
// (its go.sum beside it) instead of the module's own.
func goEnvModfile(modfile string) []string {
	return append(os.Environ(), "GO111MODULE=on", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod -modfile="+modfile), "GOWORK=off")
}

// diffBytes is a unified diff of two versions of file.
func diffBytes(file string, a, b []byte) (string, error) {
	tmp, err := os.MkdirTemp("", "etcdpilot-diff-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	pa, pb := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	if err := os.WriteFile(pa, a, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(pb, b, 0o600); err != nil {
		return "", err
	}
	return diffLabeled(pa, pb, "a/"+file, "b/"+file), nil
}

// goModPending is what the go command could not do for a go.mod the text
// rewrite moved: go.sum is then left as it was, or holds only the moved
// modules' own hashes.
func goModPending(mod string, err error) string {
	var so *sumOnly
	if errors.As(err, &so) {
		return fmt.Sprintf("%s: go.sum has the moved etcd modules' own hashes (downloaded alone), not the rest of their graph, and go.mod holds the text rewrite only: run go get and go mod tidy where this works: %v", filepath.Join(mod, "go.sum"), so.err)
	}
	return fmt.Sprintf("%s: go.sum was not updated, go.mod holds the text rewrite only: %v", filepath.Join(mod, "go.sum"), err)
}

// moveGoMods runs goMove on every go.mod the rewrite changed, when a go
// command is given: the go.sum changes join the changes (before their
// go.mod, so that a crash between the renames leaves extra sums, never
// missing ones) and the requirements go left are reported. It returns,
// per go.mod's directory, the go command's outcome (nil: moved), from
// which pending names what it could not do.
func (r *BumpResult) moveGoMods(dir, target, gobin string) map[string]error {
	if gobin == "" {
		return nil
	}
	_, noGo := exec.LookPath(gobin)
	done := map[string]error{}
	var out []FileChange
	for i := range r.Changes {
		c := &r.Changes[i]
		if filepath.Base(c.File) != "go.mod" {
			out = append(out, *c)
			continue
		}
		mod := filepath.Dir(c.File)
		if noGo != nil {
			done[mod] = fmt.Errorf("no %q on PATH to run go get and go mod tidy: install Go, or run them where Go is", gobin)
			out = append(out, *c)
			continue
		}
		sum, kept, err := goMove(context.Background(), gobin, dir, c, target)
		if err != nil && exists(filepath.Join(dir, "go.work")) {
			err = fmt.Errorf("%w; the tree is a go.work workspace, whose modules go get alone may not resolve: use the project's own dependency script (Kubernetes: hack/pin-dependency.sh, then hack/update-vendor.sh)", err)
		}
		if err != nil {
			// What go get could not do for the whole graph, the
			// moved modules' own hashes still can.
			if left, serr := settleReplaced(context.Background(), gobin, c); serr == nil {
				r.keptByGo(left)
			}
			if sum, forks, serr := sumsOfMoved(context.Background(), gobin, dir, c); serr == nil && sum != nil {
				out = append(out, *sum)
				err = &sumOnly{err: err, forks: forks}
			}
		}
		done[mod] = err
		if err != nil {
			out = append(out, *c)
			continue
		}
		if sum != nil {
			out = append(out, *sum)
		}
		out = append(out, *c)
		r.keptByGo(kept)
	}
	r.Changes = out
	return done
}

// keptByGo reports the requirements the go command left where they were.
func (r *BumpResult) keptByGo(kept []LeftPin) {
	for _, p := range kept {
		if r.goKept == nil {
			r.goKept = map[string]bool{}
		}
		r.goKept[p.File+"\x00"+p.Module] = true
		r.Reported = append(r.Reported, p)
	}
}

// dependents names the tree's other modules that replace a moved module
// by its directory (cluster-api's test module: sigs.k8s.io/cluster-api =>
// ../): the moved module's new requirements are theirs too, and their
// go.sum lacks the hashes until go mod tidy runs there, which reads the
// moved go.mod as written. Each is a thing left to do.
func dependents(dir string, changes []FileChange) []string {
	var out []string
	walkDependents(dir, changes, func(rel string, r *modfile.Replace, _ *FileChange) {
		out = append(out, fmt.Sprintf("%s: this module replaces %s by %s, whose etcd modules moved: run go mod tidy in %s", filepath.Join(rel, "go.mod"), r.Old.Path, r.New.Path, rel))
	})
	return out
}

// dependentSums gives each dependent module's go.sum (see dependents) the
// hashes of the etcd modules the go.mod it replaces moved to, as
// sumsOfMoved does for that go.mod: go mod tidy there still has the rest
// to do. The go.sum changes go first, so that a crash between the renames
// leaves extra sums, never missing ones.
func (r *BumpResult) dependentSums(dir, gobin string) {
	if gobin == "" {
		return
	}
	var sums []FileChange
	walkDependents(dir, r.Changes, func(rel string, _ *modfile.Replace, moved *FileChange) {
		moves, _, err := movesOf(moved)
		if err != nil || len(moves) == 0 {
			return
		}
		if sum, _, err := addSums(context.Background(), gobin, dir, filepath.Join(rel, "go.sum"), moves, nil); err == nil && sum != nil {
			sums = append(sums, *sum)
		}
	})
	r.Changes = append(sums, r.Changes...)
}

// walkDependents calls fn for each module of the tree that replaces a
// moved module (a go.mod among changes) by its directory.
func walkDependents(dir string, changes []FileChange, fn func(rel string, r *modfile.Replace, moved *FileChange)) {
	moved := map[string]*FileChange{}
	for i, c := range changes {
		if filepath.Base(c.File) == "go.mod" && len(c.Pins) > 0 {
			moved[filepath.Join(dir, filepath.Dir(c.File))] = &changes[i]
		}
	}
	if len(moved) == 0 {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir && skipDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" || moved[filepath.Dir(p)] != nil {
			return nil
		}
		mf, err := readModFile(p)
		if err != nil {
			return nil
		}
		if r, c := replaceOf(mf, filepath.Dir(p), moved); r != nil {
			rel, _ := filepath.Rel(dir, filepath.Dir(p))
			fn(rel, r, c)
		}
		return nil
	})
}

// replaceOf is the directory replace of mf (in modDir) that points into
// one of dirs, or nil, and the change of the go.mod it points at.
func replaceOf(mf *modfile.File, modDir string, dirs map[string]*FileChange) (*modfile.Replace, *FileChange) {
	for _, rp := range mf.Replace {
		target := rp.New.Path
		if !filepath.IsAbs(target) {
			target = filepath.Join(modDir, target)
		}
		if v, ok := dirs[filepath.Clean(target)]; rp.New.Version == "" && ok {
			return rp, v
		}
	}
	return nil, nil
}
