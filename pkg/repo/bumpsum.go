package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// sumOnly is a go step that failed for a go.mod, after which its go.sum
// got the moved etcd modules' own hashes (sumsOfMoved).
type sumOnly struct {
	err error
	// forks: every fork release the replaces now name was downloaded,
	// so it is published.
	forks bool
}

func (e *sumOnly) Error() string { return e.err.Error() }
func (e *sumOnly) Unwrap() error { return e.err }

// sumMove is one module version the rewrite moved (an etcd module's
// requirement, or the fork a replace puts in its place).
type sumMove struct{ path, from, to string }

// sumsOfMoved is what can be done for go.sum when go get cannot resolve a
// module's whole graph (a module of it private or refused by the proxy):
// the etcd modules (or the fork in their place) that the rewrite moved
// are downloaded alone, and their hashes go into go.sum as the old
// version's were there (addSums). It returns the go.sum change (nil when
// there is nothing to add) and whether every moved fork release was
// found.
func sumsOfMoved(ctx context.Context, gobin, dir string, c *FileChange) (*FileChange, bool, error) {
	moves, forks, err := movesOf(c)
	if err != nil || len(moves) == 0 {
		return nil, false, err
	}
	return addSums(ctx, gobin, dir, filepath.Join(filepath.Dir(c.File), "go.sum"), moves, forks)
}

// movesOf lists the module versions a go.mod change moved, and the fork
// releases among them (path@version).
func movesOf(c *FileChange) ([]sumMove, map[string]bool, error) {
	oldMF, err := modfile.Parse(c.File, c.old, nil)
	if err != nil {
		return nil, nil, err
	}
	newMF, err := modfile.Parse(c.File, c.new, nil)
	if err != nil {
		return nil, nil, err
	}
	var moves []sumMove
	forks := map[string]bool{}
	was := map[string]string{}
	for _, q := range oldMF.Require {
		was[q.Mod.Path] = q.Mod.Version
	}
	for _, q := range newMF.Require {
		if etcdModule(q.Mod.Path) && was[q.Mod.Path] != "" && was[q.Mod.Path] != q.Mod.Version {
			moves = append(moves, sumMove{q.Mod.Path, was[q.Mod.Path], q.Mod.Version})
		}
	}
	wasRepl := map[string]modfile.Replace{}
	for _, r := range oldMF.Replace {
		wasRepl[r.Old.Path+" "+r.Old.Version] = *r
	}
	for _, r := range newMF.Replace {
		o, ok := wasRepl[r.Old.Path+" "+r.Old.Version]
		if etcdModule(r.Old.Path) && ok && r.New.Version != "" && o.New.Path == r.New.Path && o.New.Version != r.New.Version {
			moves = append(moves, sumMove{r.New.Path, o.New.Version, r.New.Version})
			forks[r.New.Path+"@"+r.New.Version] = true
		}
	}
	return moves, forks, nil
}

// addSums adds the moved versions' hashes to the go.sum at sumFile (in
// dir) as the old version's were there (the module's and its go.mod's,
// or the go.mod's alone), right after the old version's lines, which
// stay: go.sum must hold the go.mod hash of every version in the graph,
// and only go mod tidy knows which go. The hashes are the go command's
// download of each module alone (checked against the checksum database
// unless GONOSUMDB or GOFLAGS say otherwise). It says whether every fork
// release in forks was found.
func addSums(ctx context.Context, gobin, dir, sumFile string, moves []sumMove, forks map[string]bool) (*FileChange, bool, error) {
	old, err := readOptional(filepath.Join(dir, sumFile))
	if err != nil || old == nil {
		return nil, false, err
	}
	lines := strings.Split(string(old), "\n")
	has := map[string]bool{}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 {
			has[f[0]+" "+f[1]] = true
		}
	}
	var mods []string
	for _, m := range moves {
		if has[m.path+" "+m.from] || has[m.path+" "+m.from+"/go.mod"] {
			mods = append(mods, m.path+"@"+m.to)
		}
	}
	if len(mods) == 0 {
		return nil, false, nil
	}
	got, err := download(ctx, gobin, mods)
	if err != nil {
		return nil, false, err
	}
	sums := map[string]downloaded{}
	for _, d := range got {
		if d.Error == "" && d.GoModSum != "" {
			sums[d.Path+"@"+d.Version] = d
		}
	}
	allForks := true
	for f := range forks {
		allForks = allForks && sums[f].GoModSum != ""
	}
	added := 0
	for _, m := range moves {
		d, ok := sums[m.path+"@"+m.to]
		if !ok || has[m.path+" "+m.to+"/go.mod"] {
			continue
		}
		var add []string
		if has[m.path+" "+m.from] && d.Sum != "" {
			add = append(add, fmt.Sprintf("%s %s %s", m.path, m.to, d.Sum))
		}
		add = append(add, fmt.Sprintf("%s %s/go.mod %s", m.path, m.to, d.GoModSum))
		at := 0
		for i, l := range lines {
			if strings.HasPrefix(l, m.path+" "+m.from+" ") || strings.HasPrefix(l, m.path+" "+m.from+"/go.mod ") {
				at = i + 1
			}
		}
		lines = append(lines[:at], append(add, lines[at:]...)...)
		added += len(add)
	}
	if added == 0 {
		return nil, allForks, nil
	}
	ch, err := changeOf(sumFile, old, []byte(strings.Join(lines, "\n")))
	return ch, allForks, err
}

// etcdModule says whether path is one of etcd's modules (current or
// legacy path).
func etcdModule(path string) bool {
	return path == "go.etcd.io/etcd" || strings.HasPrefix(path, "go.etcd.io/etcd/") || path == "github.com/coreos/etcd" || strings.HasPrefix(path, "github.com/coreos/etcd/")
}

// settleReplaced gives the requirements of replaced etcd modules the
// versions minimum version selection would, when go get cannot run: the
// text rewrite moved them, but the build uses the replace, so go mod tidy
// raises such a requirement only as far as a moved replacement's go.mod
// requires it (rke2 kept etcdutl's at the old version while its fork
// moved). What no moved replacement needs goes back to where it was, and
// is returned as left by the go command.
func settleReplaced(ctx context.Context, gobin string, c *FileChange) ([]LeftPin, error) {
	newMF, err := modfile.Parse(c.File, c.new, nil)
	if err != nil {
		return nil, err
	}
	need, err := replacementNeeds(ctx, gobin, c)
	if err != nil || need == nil {
		return nil, err
	}
	lines := strings.Split(string(c.new), "\n")
	var moved []Pin
	var kept []LeftPin
	for _, p := range c.Pins {
		at := requireLine(newMF, p.Module)
		if p.Fork != "" || at < 0 || !replaced(newMF, p.Module, p.NewText) || semver.Compare(need[p.Module], p.NewText) >= 0 {
			moved = append(moved, p)
			continue
		}
		v := p.Text
		if semver.Compare(need[p.Module], v) > 0 {
			v = need[p.Module]
		}
		lines[at] = strings.Replace(lines[at], p.NewText, v, 1)
		if v == p.Text {
			kept = append(kept, keptBy(newMF, p))
			continue
		}
		p.NewText = v
		moved = append(moved, p)
	}
	settled := strings.Join(lines, "\n")
	if settled == string(c.new) {
		return nil, nil // no line moved back or less far
	}
	c.new = []byte(settled)
	c.Pins = moved
	c.Diff, err = diffBytes(c.File, c.old, c.new)
	return kept, err
}

// replacementNeeds is what the fork releases a go.mod change moves to
// require, by module (the highest version of each): how far minimum
// version selection raises the requirements of the modules they replace.
// It is nil when the change moves no fork.
func replacementNeeds(ctx context.Context, gobin string, c *FileChange) (map[string]string, error) {
	_, forks, err := movesOf(c)
	if err != nil || len(forks) == 0 {
		return nil, err
	}
	var mods []string
	for f := range forks {
		mods = append(mods, f)
	}
	sort.Strings(mods)
	got, err := download(ctx, gobin, mods)
	if err != nil {
		return nil, err
	}
	need := map[string]string{}
	for _, d := range got {
		if d.Error != "" || d.GoMod == "" {
			return nil, fmt.Errorf("%s@%s: %s", d.Path, d.Version, d.Error) // not every replacement's needs are known
		}
		b, err := os.ReadFile(d.GoMod)
		if err != nil {
			return nil, err
		}
		mf, err := modfile.ParseLax(d.GoMod, b, nil)
		if err != nil {
			return nil, err
		}
		for _, q := range mf.Require {
			if semver.Compare(q.Mod.Version, need[q.Mod.Path]) > 0 {
				need[q.Mod.Path] = q.Mod.Version
			}
		}
	}
	return need, nil
}

// requireLine is the index of the line holding module's requirement in
// mf, or -1.
func requireLine(mf *modfile.File, module string) int {
	for _, q := range mf.Require {
		if q.Mod.Path == module && q.Syntax != nil {
			return q.Syntax.Start.Line - 1
		}
	}
	return -1
}
