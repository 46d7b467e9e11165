package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// RefPath is one refPath of an etcd entry in a zeitgeist-style
// dependencies.yaml (Kubernetes' build/dependencies.yaml): a file and the
// pattern of the lines that carry the dependency's version.
type RefPath struct {
	Dependency string `json:"dependency"`
	Path       string `json:"path"`
	Match      string `json:"match"`
	// Lines are the lines the pattern matches.
	Lines []int `json:"lines,omitempty"`
	// Problem says what is wrong: the file is missing, or the pattern
	// matches no line any more.
	Problem string `json:"problem,omitempty"`
}

// inventoryFiles are where zeitgeist inventories live.
var inventoryFiles = []string{"build/dependencies.yaml", "dependencies.yaml"}

// readInventory reads the etcd entries of the tree's dependencies.yaml,
// adds the lines their refPaths point at as pins (where the patterns of
// this package missed them), and reports refPaths that no longer match.
func (r *Result) readInventory() error {
	for _, f := range inventoryFiles {
		path := filepath.Join(r.Root, f)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		refs, err := parseInventory(f, b)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			r.checkRefPath(&ref)
			r.Inventory = append(r.Inventory, ref)
		}
	}
	return nil
}

type inventoryDoc struct {
	Dependencies []struct {
		Name     string `yaml:"name"`
		RefPaths []struct {
			Path  string    `yaml:"path"`
			Match yaml.Node `yaml:"match"`
		} `yaml:"refPaths"`
	} `yaml:"dependencies"`
}

// parseInventory reads the refPaths of etcd's entries; a pattern that is
// not a regular expression is an error naming its file and line.
func parseInventory(file string, b []byte) ([]RefPath, error) {
	var doc inventoryDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var out []RefPath
	for _, d := range doc.Dependencies {
		if !isEtcdDependency(d.Name) {
			continue
		}
		for _, rp := range d.RefPaths {
			if rp.Match.Value != "" {
				if _, err := regexp.Compile(rp.Match.Value); err != nil {
					return nil, fmt.Errorf("%s:%d: refPath %s: match %q is not a regular expression: %v; fix the pattern", file, rp.Match.Line, rp.Path, rp.Match.Value, err)
				}
			}
			out = append(out, RefPath{Dependency: d.Name, Path: rp.Path, Match: rp.Match.Value})
		}
	}
	return out, nil
}

// checkRefPath finds the lines a refPath matches.
func (r *Result) checkRefPath(ref *RefPath) {
	b, err := os.ReadFile(filepath.Join(r.Root, ref.Path))
	if err != nil {
		ref.Problem = "the file is missing: " + err.Error()
		return
	}
	re := regexp.MustCompile(ref.Match) // checked in parseInventory
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if ref.Match != "" && !re.MatchString(l) {
			continue
		}
		ref.Lines = append(ref.Lines, i+1)
		if ref.Match == "" || r.hasPin(ref.Path, i+1) {
			continue
		}
		// The inventory knows this line carries etcd's version: a pin
		// even when no pattern here recognized it.
		for _, m := range anyVersionRe.FindAllStringSubmatchIndex(l, -1) {
			v := etcdVersion(l[m[2]:m[3]])
			r.Pins = append(r.Pins, Pin{File: ref.Path, Line: i + 1, Start: m[2], End: m[3], Text: l[m[2]:m[3]], Version: v, Minor: version.Minor(v), Kind: KindRefPath, Test: testPath(ref.Path)})
		}
	}
	if ref.Match != "" && len(ref.Lines) == 0 {
		ref.Problem = fmt.Sprintf("the pattern %q matches no line any more: the inventory is stale", ref.Match)
	}
}

func (r *Result) hasPin(file string, line int) bool {
	for _, p := range r.Pins {
		if p.File == file && p.Line == line {
			return true
		}
	}
	return false
}
