package repo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
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
