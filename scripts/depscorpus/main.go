// Command depscorpus takes one real commit that moved a module's etcd
// requirements out of a git mirror and writes it as a case of the deps
// corpus (pkg/repo/testdata/deps-corpus/NAME): the module's go.mod and
// go.sum before the commit, its go.mod after it (what the maintainers, or
// their bot, got from the go command), and the packages the module's Go
// files import from other modules, with and without tests — what `go mod
// tidy` reads of a module's code. The case's test rebuilds the module as a
// stub that imports exactly those packages.
//
//	go run ./scripts/depscorpus -repo /work/.mirror/OWNER+NAME/repo -commit SHA [-dir SUBDIR] -name NAME -url https://github.com/OWNER/NAME
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

func main() {
	repo := flag.String("repo", "", "git directory of the mirror")
	commit := flag.String("commit", "", "the commit that moved etcd")
	dir := flag.String("dir", ".", "the module's directory in the repository")
	name := flag.String("name", "", "case name")
	url := flag.String("url", "", "the repository's URL, for the README")
	out := flag.String("out", "pkg/repo/testdata/deps-corpus", "corpus directory")
	importsOnly := flag.String("imports", "", "write only the imports list of -dir at the commit's parent to this file (the bump corpus' go.mod cases)")
	flag.Parse()
	if *repo == "" || *commit == "" || *name == "" {
		log.Fatal("need -repo, -commit and -name")
	}
	git := func(args ...string) []byte {
		b, err := exec.Command("git", append([]string{"--git-dir", *repo}, args...)...).Output()
		if err != nil {
			log.Fatalf("git %v: %v", args, err)
		}
		return b
	}
	full := strings.TrimSpace(string(git("rev-parse", *commit)))
	parent := strings.TrimSpace(string(git("rev-parse", full+"^1")))
	at := func(rev, file string) []byte { return git("show", rev+":"+path.Join(*dir, file)) }
	before, after := at(parent, "go.mod"), at(full, "go.mod")
	mf, err := modfile.Parse("go.mod", before, nil)
	if err != nil {
		log.Fatal(err)
	}
	local := []string{mf.Module.Mod.Path}
	for _, r := range mf.Replace {
		if r.New.Version == "" {
			if *importsOnly == "" {
				log.Fatalf("go.mod replaces %s with a directory (%s): not a self-contained case", r.Old.Path, r.New.Path)
			}
			local = append(local, r.Old.Path)
		}
	}
	// A directory replace's packages are not in the case: their imports
	// are left out, as the module's own are.
	imports, tests := importsOf(git("archive", parent, *dir), *dir, local)
	if *importsOnly != "" {
		must(os.MkdirAll(filepath.Dir(*importsOnly), 0o755))
		must(os.WriteFile(*importsOnly, importsList(imports, tests), 0o644))
		fmt.Printf("%s: %d imports, %d test imports\n", *importsOnly, len(imports), len(tests))
		return
	}
	caseDir := filepath.Join(*out, *name)
	must(os.MkdirAll(caseDir, 0o755))
	must(os.WriteFile(filepath.Join(caseDir, "go.mod.before"), before, 0o644))
	must(os.WriteFile(filepath.Join(caseDir, "go.sum.before"), at(parent, "go.sum"), 0o644))
	must(os.WriteFile(filepath.Join(caseDir, "go.mod.after"), after, 0o644))
	must(os.WriteFile(filepath.Join(caseDir, "imports.txt"), importsList(imports, tests), 0o644))
	subject := strings.TrimSpace(string(git("log", "-1", "--format=%ad %s", "--date=short", full)))
	readme := fmt.Sprintf("# %s\n\n%s (module %s, directory %s)\n\n- commit %s: %s\n- parent %s\n\ngo.mod.before and go.sum.before are the parent's, go.mod.after the commit's;\nimports.txt lists the packages the module's Go files import from other\nmodules at the parent (\"test\" lines: only its tests do). Made with\nscripts/depscorpus.\n", *name, *url, mf.Module.Mod.Path, *dir, full, subject, parent)
	must(os.WriteFile(filepath.Join(caseDir, "README.md"), []byte(readme), 0o644))
	fmt.Printf("%s: %d imports, %d test imports\n", caseDir, len(imports), len(tests))
}

// importsList is imports.txt: a package a line, "test " before those
// only tests import.
func importsList(imports, tests []string) []byte {
	var b bytes.Buffer
	for _, p := range imports {
		fmt.Fprintln(&b, p)
	}
	for _, p := range tests {
		fmt.Fprintln(&b, "test", p)
	}
	return b.Bytes()
}

// importsOf reads the Go files of the module in the archive (not nested
// modules, vendor or testdata) and returns the packages they import from
// other modules: by the code, and only by tests.
func importsOf(archive []byte, dir string, local []string) (code, tests []string) {
	files := map[string][]byte{}
	nested := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		name := strings.TrimPrefix(path.Clean(h.Name), path.Clean(dir)+"/")
		if path.Base(name) == "go.mod" && path.Dir(name) != "." {
			nested[path.Dir(name)] = true
		}
		if strings.HasSuffix(name, ".go") && h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[name] = b
		}
	}
	inCode, inTests := map[string]bool{}, map[string]bool{}
	for name, src := range files {
		if skipped(name, nested) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			continue
		}
		if ignored(f.Comments, f.Package) {
			continue
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			if p == "C" || !strings.Contains(first, ".") || inModules(p, local) {
				continue
			}
			if strings.HasSuffix(name, "_test.go") {
				inTests[p] = true
			} else {
				inCode[p] = true
			}
		}
	}
	for p := range inCode {
		code = append(code, p)
		delete(inTests, p)
	}
	for p := range inTests {
		tests = append(tests, p)
	}
	sort.Strings(code)
	sort.Strings(tests)
	return code, tests
}

// inModules reports a package of one of the modules.
func inModules(p string, modules []string) bool {
	for _, m := range modules {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// skipped: files go mod tidy does not read (vendor, testdata, _ and .
// directories, nested modules).
func skipped(name string, nested map[string]bool) bool {
	parts := strings.Split(path.Dir(name), "/")
	for i, p := range parts {
		if p == "vendor" || p == "testdata" || (p != "." && (strings.HasPrefix(p, "_") || strings.HasPrefix(p, "."))) {
			return true
		}
		if nested[strings.Join(parts[:i+1], "/")] {
			return true
		}
	}
	b := path.Base(name)
	return strings.HasPrefix(b, "_") || strings.HasPrefix(b, ".")
}

// ignored reports a //go:build ignore file (tidy reads every other tag).
func ignored(comments []*ast.CommentGroup, pkg token.Pos) bool {
	for _, g := range comments {
		if g.Pos() > pkg {
			break
		}
		for _, c := range g.List {
			if constraint.IsGoBuild(c.Text) {
				if x, err := constraint.Parse(c.Text); err == nil && x.String() == "ignore" {
					return true
				}
			}
		}
	}
	return false
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
