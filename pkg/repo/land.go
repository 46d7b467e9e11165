package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// moduleFiles are the files of a module a move changes.
var moduleFiles = []string{"go.mod", "go.sum"}

// readModuleFiles reads go.mod and go.sum as they are before a move (nil
// for a go.sum that does not exist).
func readModuleFiles(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range moduleFiles {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !(n == "go.sum" && errors.Is(err, fs.ErrNotExist)) {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// CheckOut refuses an --out that exists: the moved module goes to a new
// directory, never over one.
func CheckOut(out string) error {
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("--out %s exists: give a new directory (nothing is written over)", out)
	}
	return nil
}

// land puts a move that built in the scratch copy cp where the user asked:
// go.mod and go.sum back into the module dir (in place), or the whole copy
// into o.Out. Then it builds there again, so that what is said of the
// build is said of what was written. In place, nothing is written when
// go.mod or go.sum changed since the copy was taken (was).
func land(ctx context.Context, o SimulateOptions, a *Applied, dir, cp string, was map[string][]byte) error {
	if o.Out != "" {
		if err := CheckOut(o.Out); err != nil {
			return err
		}
		if err := copyTree(cp, o.Out); err != nil {
			return fmt.Errorf("--out %s: %w", o.Out, err)
		}
		a.Dir, a.Written = o.Out, []string{o.Out}
		if hasDirReplaces(filepath.Join(o.Out, "go.mod")) {
			a.Notes = append(a.Notes, "the directory replaces of "+filepath.Join(o.Out, "go.mod")+" are absolute (the module's own are relative to "+dir+")")
		}
	} else {
		for _, n := range moduleFiles {
			now, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if !bytes.Equal(now, was[n]) {
				return fmt.Errorf("%s changed while the move ran: nothing was written; run deps check --apply again", filepath.Join(dir, n))
			}
		}
		mod, err := relativeReplaces(filepath.Join(cp, "go.mod"), dir)
		if err != nil {
			return err
		}
		// go.sum first: a crash between the two leaves extra sums, never
		// a go.mod without its sums.
		if sum, err := os.ReadFile(filepath.Join(cp, "go.sum")); err == nil && !bytes.Equal(sum, was["go.sum"]) {
			if err := fsutil.WriteFile(filepath.Join(dir, "go.sum"), sum, mode(filepath.Join(dir, "go.sum"))); err != nil {
				return err
			}
			a.Written = append(a.Written, filepath.Join(dir, "go.sum"))
		}
		if err := fsutil.WriteFile(filepath.Join(dir, "go.mod"), mod, mode(filepath.Join(dir, "go.mod"))); err != nil {
			return err
		}
		a.Dir, a.Written = dir, append(a.Written, filepath.Join(dir, "go.mod"))
		if exists(filepath.Join(dir, "vendor", "modules.txt")) {
			a.Notes = append(a.Notes, "vendor/ still holds the old versions: run go mod vendor")
		}
	}
	out, err := runGo(ctx, o.Go, a.Dir, "build", "./...")
	a.BuildOK, a.Output = err == nil, tail(out, 40)
	return nil
}

func mode(p string) fs.FileMode {
	if fi, err := os.Stat(p); err == nil {
		return fi.Mode().Perm()
	}
	return 0o644
}

func hasDirReplaces(gomod string) bool {
	mf, err := readModFile(gomod)
	if err != nil {
		return false
	}
	for _, r := range mf.Replace {
		if r.New.Version == "" {
			return true
		}
	}
	return false
}

// relativeReplaces undoes absReplaces: the copy's go.mod with its
// directory replacements as the module at dir writes them.
func relativeReplaces(gomod, dir string) ([]byte, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return nil, err
	}
	mf, err := modfile.Parse(gomod, b, nil)
	if err != nil {
		return nil, err
	}
	changed := false
	for _, r := range mf.Replace {
		if r.New.Version != "" || !filepath.IsAbs(r.New.Path) {
			continue
		}
		if rel, err := filepath.Rel(dir, r.New.Path); err == nil {
			if !filepath.IsAbs(rel) && rel[0] != '.' {
				rel = "./" + rel
			}
			if err := mf.AddReplace(r.Old.Path, r.Old.Version, filepath.ToSlash(rel), ""); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	if !changed {
		return b, nil
	}
	return mf.Format()
}
