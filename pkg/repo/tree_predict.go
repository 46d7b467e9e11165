package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MethodGoTree is how the modules of a tree are predicted together.
const MethodGoTree = "go get + go mod tidy in a copy of the tree, every module together"

// SimulateTree simulates the move to etcd release x of every module of
// the tree that uses etcd. The modules with Go code are moved together in
// one copy of the tree: each by go get and go mod tidy, with the directory
// replaces inside the tree naming the moved copies; then go work sync when
// the tree has a go.work; then go mod tidy again in each, so that every
// module sees what the others' moves raised. A tree with one such module
// and no go.work is simulated module by module, as Simulate does; Apply
// is for that case only. moving hears of each module as its move starts.
func SimulateTree(ctx context.Context, t *DepsTree, x string, o SimulateOptions, moving func(gomod string)) error {
	if o.Go == "" {
		o.Go = "go"
	}
	if moving == nil {
		moving = func(string) {}
	}
	var users []*DepsReport
	withCode := 0
	for _, r := range t.Modules {
		if r.Etcd == "" {
			continue
		}
		users = append(users, r)
		if hasGoFiles(filepath.Dir(r.GoMod)) {
			withCode++
		}
	}
	work := ""
	if fi, err := os.Stat(t.Root); err == nil && fi.IsDir() && exists(filepath.Join(t.Root, "go.work")) {
		work = "go.work"
	}
	if withCode < 2 && work == "" {
		first := true
		for _, r := range users {
			moving(r.GoMod)
			so := o
			so.Apply = o.Apply && first
			first = false
			sim, err := Simulate(ctx, r, x, so)
			if err != nil {
				return err
			}
			r.Simulation = sim
		}
		return nil
	}
	if o.Apply {
		return fmt.Errorf("--apply moves one module, and this tree has %d that use etcd, moved together: name one go.mod (the prediction of the tree is without --apply)", len(users))
	}
	root, err := filepath.Abs(t.Root)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "etcdpilot-deps-tree-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	croot := filepath.Join(scratch, filepath.Base(root))
	if err := copyTree(root, croot); err != nil {
		return err
	}
	copyOf := func(dir string) string {
		rel, _ := filepath.Rel(root, dir)
		return filepath.Join(croot, rel)
	}
	for _, r := range t.Modules {
		dir, err := filepath.Abs(filepath.Dir(r.GoMod))
		if err != nil {
			return err
		}
		if !within(root, dir) {
			continue // a go.work's module outside the tree: not copied
		}
		if err := absReplaces(filepath.Join(copyOf(dir), "go.mod"), dir, root); err != nil {
			return err
		}
	}
	var moves []*move
	for _, r := range users {
		if !hasGoFiles(filepath.Dir(r.GoMod)) {
			moving(r.GoMod)
			sim, err := Simulate(ctx, r, x, SimulateOptions{Go: o.Go})
			if err != nil {
				return err
			}
			r.Simulation = sim
			continue
		}
		m, err := newMove(r, x, o)
		if err != nil {
			return err
		}
		m.sim.Method = MethodGoTree
		m.sim.Conflicts = append(legacyConflicts(r, x), m.sim.Conflicts...)
		r.Simulation = m.sim
		if !within(root, m.dir) && !m.idle() {
			m.sim.Conflicts = append(m.sim.Conflicts, Conflict{Kind: "outside", Blocking: true,
				Message: fmt.Sprintf("%s is outside %s (a go.work entry): not moved with the tree; run deps check in its own directory", m.dir, root)})
		}
		if m.idle() || !within(root, m.dir) {
			continue
		}
		m.cp = copyOf(m.dir)
		moves = append(moves, m)
	}
	for _, m := range moves {
		moving(m.r.GoMod)
		if err := m.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.r.GoMod, err)
		}
	}
	if work != "" {
		out, err := runGoWork(ctx, o.Go, croot, filepath.Join(croot, work), "work", "sync")
		if err != nil && network(out) {
			return goError("go work sync", out, err)
		}
		for _, m := range moves {
			m.sim.Commands = append(m.sim.Commands, "go work sync")
			if err != nil {
				m.sim.Conflicts = append(m.sim.Conflicts, Conflict{Kind: "work", Blocking: true,
					Message: "go work sync fails after the move: " + tail(strings.TrimSpace(out), 12)})
			}
		}
	}
	for _, m := range moves {
		if err := m.tidy(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.r.GoMod, err)
		}
		if err := m.judge(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.r.GoMod, err)
		}
	}
	if work != "" {
		return synced(t, root, copyOf, x)
	}
	return nil
}

// synced reports the modules of the workspace that do not use etcd but
// whose go.mod go work sync changed (a requirement they share with a
// moved module rose with it).
func synced(t *DepsTree, root string, copyOf func(string) string, x string) error {
	for _, r := range t.Modules {
		dir, err := filepath.Abs(filepath.Dir(r.GoMod))
		if err != nil {
			return err
		}
		if r.Etcd != "" || r.Simulation != nil || !within(root, dir) {
			continue
		}
		before, err := readModFile(r.GoMod)
		if err != nil {
			return err
		}
		after, err := readModFile(filepath.Join(copyOf(dir), "go.mod"))
		if err != nil {
			return err
		}
		sim := &Simulation{Target: x, Method: MethodGoTree, Commands: []string{"go work sync"}, Raises: []Raise{}, Conflicts: []Conflict{}}
		sim.diff(before, after)
		if len(sim.Raises)+len(sim.New)+len(sim.Removed) > 0 || sim.GoTo != sim.GoFrom {
			r.Simulation = sim
		}
	}
	return nil
}
