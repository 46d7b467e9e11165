package repo

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// DepsTree is deps check's answer for a tree of modules (a repository
// with staging modules, a workspace).
type DepsTree struct {
	Root    string        `json:"root"`
	Modules []*DepsReport `json:"modules"`
	// Etcd is the etcd release of the tree's lockstep modules (the lowest
	// when modules disagree).
	Etcd string `json:"etcd,omitempty"`
	// Findings are about the tree as a whole (modules that disagree).
	Findings []Finding `json:"findings"`
}

// Failed says whether CI should fail: any error finding anywhere.
func (t *DepsTree) Failed() bool {
	for _, f := range t.Findings {
		if f.Severity == SevError {
			return true
		}
	}
	for _, m := range t.Modules {
		if m.Failed() {
			return true
		}
	}
	return false
}

// CheckTree checks every go.mod under root (vendor/, testdata/, .git and
// node_modules skipped) and the modules a go.work at root uses, and
// requires all of them to agree on etcd's release. A go.mod path checks
// that module alone.
func CheckTree(ctx context.Context, root string, o DepsOptions) (*DepsTree, error) {
	paths, err := goModsUnder(root)
	if err != nil {
		return nil, err
	}
	t := &DepsTree{Root: root, Modules: []*DepsReport{}, Findings: []Finding{}}
	for _, p := range paths {
		r, err := CheckDeps(ctx, p, o)
		if err != nil {
			return nil, err
		}
		t.Modules = append(t.Modules, r)
	}
	t.agree()
	return t, nil
}

// goModsUnder lists the go.mod files to check, the root's first.
func goModsUnder(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("deps check: %w", err)
	}
	if !st.IsDir() {
		return []string{root}, nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if abs, err := filepath.Abs(p); err == nil && !seen[abs] {
			seen[abs] = true
			out = append(out, p)
		}
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			switch d.Name() {
			case "vendor", "testdata", ".git", "node_modules", "_output":
				return filepath.SkipDir
			}
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			add(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wb, err := os.ReadFile(filepath.Join(root, "go.work")); err == nil {
		wf, err := modfile.ParseWork(filepath.Join(root, "go.work"), wb, nil)
		if err != nil {
			return nil, fmt.Errorf("deps check: %w", err)
		}
		for _, u := range wf.Use {
			gm := filepath.Join(root, u.Path, "go.mod")
			if _, err := os.Stat(gm); err != nil {
				// The go command refuses such a workspace too.
				return nil, fmt.Errorf("deps check: %s:%d: use %s: no go.mod there (%v): remove the line from go.work or restore the module", filepath.Join(root, "go.work"), u.Syntax.Start.Line, u.Path, err)
			}
			add(gm)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("deps check: no go.mod in %s (give a go.mod or a directory that holds one)", root)
	}
	rootMod := filepath.Join(root, "go.mod")
	sort.SliceStable(out, func(i, j int) bool { return out[i] == rootMod || (out[j] != rootMod && out[i] < out[j]) })
	return out, nil
}

// agree requires every module that uses etcd to be at one release.
func (t *DepsTree) agree() {
	by := map[string][]string{}
	for _, m := range t.Modules {
		if m.Etcd != "" {
			by[m.Etcd] = append(by[m.Etcd], rel(t.Root, m.GoMod))
		}
	}
	var vs []string
	for v := range by {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return version.Compare(vs[i], vs[j]) < 0 })
	if len(vs) > 0 {
		t.Etcd = vs[0]
	}
	if len(vs) > 1 {
		var parts []string
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%s in %s", v, strings.Join(by[v], ", ")))
		}
		t.Findings = append(t.Findings, Finding{Severity: SevError, Code: "tree-disagrees", Message: "the modules of the tree require different etcd releases: " + strings.Join(parts, "; ") + " — a build of the whole tree gets the highest, the others' tests run against another"})
	}
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
