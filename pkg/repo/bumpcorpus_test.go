package repo

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

// TestBumpCorpus replays real commits that moved etcd pins
// (testdata/bump-corpus, made by scripts/bumpcorpus.sh from the projects'
// history): repo bump runs each of the commit's moves on a copy of the
// files as they were before it, and the result is compared with the files
// the commit wrote. It prints, per case and in total: the version lines
// upstream wrote (added lines naming a target version) that the bump
// wrote too, the lines the bump wrote that upstream did not (wrong
// edits), and closing claims that were false (the bump said nothing was
// left while upstream's lines were not all written).
func TestBumpCorpus(t *testing.T) {
	cases, err := filepath.Glob("testdata/bump-corpus/*/moves.txt")
	testutil.Must(t, err)
	cat, _ := catalog.Default()
	var lines []string
	var upstream, reproduced, wrong, otherForm, goOwn, missedNet, falseClaims, needing, named int
	for _, c := range cases {
		dir := filepath.Dir(c)
		name := filepath.Base(dir)
		tree := t.TempDir()
		testutil.Must(t, copyTree(filepath.Join(dir, "before"), tree))
		// A go.mod's module as go mod tidy sees it: a stub package
		// importing what its code imported.
		var lists []string
		filepath.WalkDir(filepath.Join(dir, "imports"), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "imports.txt" {
				lists = append(lists, p)
			}
			return nil
		})
		for _, p := range lists {
			rel, _ := filepath.Rel(filepath.Join(dir, "imports"), filepath.Dir(p))
			writeStub(t, filepath.Join(tree, rel), p)
		}
		moves := readMoves(t, c)
		claimed, refused := true, ""
		var said []string
		for _, m := range moves {
			r, err := Bump(tree, m[1], BumpOptions{Catalog: cat, From: []string{m[0]}, Go: "go", Releases: binaries.DefaultMirror})
			switch {
			case err != nil:
				claimed, refused = false, firstLine(err.Error())
			case len(r.Left) > 0 || len(r.Stale) > 0 || len(r.Pending) > 0:
				claimed = false
				said = append(said, r.Pending...)
				for _, l := range r.Left {
					said = append(said, fmt.Sprintf("%s:%d %s", l.File, l.Line, l.Reason))
				}
			}
		}
		var targets []string
		for _, m := range moves {
			targets = append(targets, m[1])
		}
		// up: upstream's added lines naming a target (what is scored);
		// upAll: every line upstream added (a line of ours among them is
		// not wrong, such as client/v2's v2.306.7 for 3.6.7).
		up, upAll, ours := map[string]int{}, map[string]int{}, map[string]int{}
		// shared: our lines in a hunk where upstream also rewrote the
		// line (a version written in another form, or a refactor's new
		// names); touched: upstream's lines in a hunk we changed too.
		shared, touched, netLine := map[string]bool{}, map[string]bool{}, map[string]bool{}
		ourFile := map[string]string{}
		// tidied: upstream's go.mod and go.sum as go mod tidy leaves
		// them (the real oracle for a Go module's files), made when one
		// of our lines there is not upstream's.
		var tidied map[string]map[string]bool
		needsNet := false
		testutil.Must(t, filepath.Walk(filepath.Join(dir, "after"), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(dir, "after"), p)
			before := fileLines(t, filepath.Join(dir, "before", rel))
			hu := hunks(before, fileLines(t, p))
			ho := hunks(before, fileLines(t, filepath.Join(tree, rel)))
			for _, g := range hu {
				for k, l := range g.added {
					upAll[l]++
					if namesAny(l, targets) {
						up[l]++
						touched[l] = touched[l] || sameLine(g, k, ho)
						// What text cannot know: a go.sum's hashes, a
						// release archive's checksum.
						net := filepath.Base(p) == "go.sum" || checksumRe.MatchString(l) && hashRe.MatchString(l)
						netLine[l] = netLine[l] || net
						needsNet = needsNet || net
					}
				}
			}
			for _, h := range ho {
				for k, l := range h.added {
					ours[l]++
					ourFile[l] = rel
					shared[l] = shared[l] || sameLine(h, k, hu)
				}
			}
			return nil
		}))
		k, w, f, g, untouched, netMissed := 0, 0, 0, 0, 0, 0
		var missed, extra []string
		for l, n := range up {
			got := min(n, ours[l])
			k += got
			if got < n {
				missed = append(missed, strings.TrimSpace(l))
				if !touched[l] {
					untouched += n - got
				}
				if netLine[l] {
					netMissed += n - got
				}
			}
		}
		for l, n := range ours {
			if n > upAll[l] {
				if goFile(ourFile[l]) && tidied == nil {
					tidied = tidyAfter(t, dir)
				}
				if tidied[ourFile[l]][l] {
					// Upstream's file is not what go mod tidy leaves,
					// and go mod tidy writes this line.
					g += n - upAll[l]
					extra = append(extra, "go's   "+strings.TrimSpace(l))
					continue
				}
				if shared[l] {
					f += n - upAll[l]
					extra = append(extra, "other form "+strings.TrimSpace(l))
				} else {
					w += n - upAll[l]
					extra = append(extra, "wrong  "+strings.TrimSpace(l))
				}
			}
		}
		total := 0
		for _, n := range up {
			total += n
		}
		// A claim is false when upstream changed a line the bump left
		// alone; a line written in another form is not stale.
		falseClaim := claimed && untouched > 0
		upstream, reproduced, wrong, otherForm, goOwn, missedNet = upstream+total, reproduced+k, wrong+w, otherForm+f, goOwn+g, missedNet+netMissed
		line := fmt.Sprintf("%-22s %2d of %2d upstream version lines, %d wrong edits, %d in another form", name, k, total, w, f)
		if g > 0 {
			line += fmt.Sprintf(", %d go mod tidy's own", g)
		}
		switch {
		case refused != "":
			line += ", refused: " + refused
		case falseClaim:
			line += ", FALSE CLAIM (nothing left, lines missing)"
			falseClaims++
		case !claimed:
			line += ", said what it left"
			for _, w := range said {
				line += "\n    left   " + firstLine(w)
			}
		}
		sort.Strings(missed)
		sort.Strings(extra)
		for _, m := range missed {
			line += "\n    missed " + m
		}
		for _, e := range extra {
			line += "\n    " + e
		}
		lines = append(lines, line)
		if needsNet {
			needing++
			if offlineSaysSo(t, cat, dir, moves) {
				named++
			} else {
				t.Errorf("%s: offline, the bump does not name the go.sum or checksum it cannot write", name)
			}
		}
	}
	t.Logf("repo bump on %d real bump commits:\n%s\nTOTAL: %d of %d upstream version lines (%.1f%%; %d of the %d missed are go.sum hashes or release checksums), %d wrong edits (lines upstream left alone), %d lines in another form (a line upstream rewrote too, to other text: a refactor's names, a dropped v; %d by text alone), %d lines of go mod tidy's own (upstream's go.mod or go.sum is not what go mod tidy leaves, and tidy writes them), %d false closing claims (upstream changed a line the bump left, and it said nothing was left); offline, %d of the %d cases that need a go.sum or a release checksum name it and exit non-zero",
		len(cases), strings.Join(lines, "\n"), reproduced, upstream, pct(reproduced, upstream), missedNet, upstream-reproduced, wrong, otherForm, wrong+otherForm, goOwn, falseClaims, named, needing)
	// The corpus holds these at zero; a change that brings one back is
	// judged by the totals above.
	if wrong > 0 || falseClaims > 0 {
		t.Errorf("%d wrong edits and %d false closing claims over the corpus; both were 0", wrong, falseClaims)
	}
}

func goFile(rel string) bool {
	return filepath.Base(rel) == "go.mod" || filepath.Base(rel) == "go.sum"
}

// tidyAfter runs go mod tidy on upstream's own go.mod and go.sum in each
// module of a case that has an import list (stubbed as TestDepsCorpus
// does), and returns the lines of the files tidy leaves, by path. A
// module tidy refuses has none.
func tidyAfter(t *testing.T, dir string) map[string]map[string]bool {
	tree := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(dir, "after"), tree))
	out := map[string]map[string]bool{}
	filepath.WalkDir(filepath.Join(dir, "imports"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "imports.txt" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(dir, "imports"), filepath.Dir(p))
		mod := filepath.Join(tree, rel)
		writeStub(t, mod, p)
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s: go mod tidy of upstream's %s: %v: %s", filepath.Base(dir), rel, err, firstLine(string(b)))
			return nil
		}
		for _, f := range []string{"go.mod", "go.sum"} {
			set := map[string]bool{}
			for _, l := range fileLines(t, filepath.Join(mod, f)) {
				set[l] = true
			}
			out[filepath.Join(rel, f)] = set
		}
		return nil
	})
	return out
}

// offlineSaysSo replays a case without the go command and says whether
// the bump named what it left to do (its exit status is then 1).
func offlineSaysSo(t *testing.T, cat *catalog.Catalog, dir string, moves [][2]string) bool {
	tree := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(dir, "before"), tree))
	said := false
	for _, m := range moves {
		r, err := Bump(tree, m[1], BumpOptions{Catalog: cat, From: []string{m[0]}})
		said = said || err == nil && len(r.Pending) > 0
	}
	return said
}

func readMoves(t *testing.T, path string) [][2]string {
	b, err := os.ReadFile(path)
	testutil.Must(t, err)
	var out [][2]string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			out = append(out, [2]string{f[0], f[1]})
		}
	}
	return out
}

func fileLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	testutil.Must(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// hunk is one change of a diff: a[start:end] replaced by added (start ==
// end for lines inserted before a[start]).
type hunk struct {
	start, end int
	added      []string
}

// hunks diffs a and b by their longest common subsequence.
func hunks(a, b []string) []hunk {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []hunk
	var cur *hunk
	i, j := 0, 0
	for i < n || j < m {
		if i < n && j < m && a[i] == b[j] {
			cur = nil
			i, j = i+1, j+1
			continue
		}
		if cur == nil {
			out = append(out, hunk{start: i, end: i})
			cur = &out[len(out)-1]
		}
		if i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]) {
			i++
			cur.end = i
		} else {
			cur.added = append(cur.added, b[j])
			j++
		}
	}
	return out
}

// added lists the lines of b that the diff from a adds.
func added(a, b []string) []string {
	var out []string
	for _, h := range hunks(a, b) {
		out = append(out, h.added...)
	}
	return out
}

// sameLine says whether the k-th line h adds takes the place of a line
// that one of hs changes too: in a line-for-line hunk, the line it
// replaces; otherwise any line h replaces, or its place of insertion.
func sameLine(h hunk, k int, hs []hunk) bool {
	lo, hi := h.start, h.end
	if hi-lo == len(h.added) {
		lo, hi = lo+k, lo+k+1
	}
	for _, g := range hs {
		switch {
		case lo == hi && g.start == g.end:
			if lo == g.start {
				return true
			}
		case lo == hi:
			if g.start < lo && lo < g.end {
				return true
			}
		case g.start == g.end:
			if lo < g.start && g.start < hi {
				return true
			}
		case lo < g.end && g.start < hi:
			return true
		}
	}
	return false
}

func namesAny(line string, versions []string) bool {
	for _, v := range versions {
		if strings.Contains(line, v) {
			return true
		}
	}
	return false
}

// TestForkReplaces, on rke2's real go.mod before its bump to 3.6.7: the
// replaces that put the k3s-io fork in etcd's place are pins of the
// release that is built (3.6.6, while the requirements already said
// 3.6.7, so the line disagrees); the bump moves them with the fork's
// suffix kept (client/v2 as v2.306.7) and says what text cannot finish:
// the go.sum and the fork's release.
func TestForkReplaces(t *testing.T) {
	tree := t.TempDir()
	testutil.Must(t, copyTree("testdata/bump-corpus/rke2-3.6.7/before", tree))
	scan, err := Scan(tree)
	testutil.Must(t, err)
	forks := 0
	for _, p := range scan.Pins {
		if p.Fork != "" {
			forks++
			if p.Version != "3.6.6" {
				t.Errorf("fork pin %+v", p)
			}
		}
	}
	if forks != 7 {
		t.Fatalf("%d fork replaces found, want 7", forks)
	}
	cat, _ := catalog.Default()
	r, err := Bump(tree, "3.6.7", BumpOptions{Catalog: cat, From: []string{"3.6.6"}})
	testutil.Must(t, err)
	gomod := strings.Join(fileLines(t, filepath.Join(tree, "go.mod")), "\n")
	for _, want := range []string{"github.com/k3s-io/etcd/api/v3 v3.6.7-k3s1", "github.com/k3s-io/etcd/client/v2 v2.306.7-k3s1"} {
		if !strings.Contains(gomod, want) {
			t.Errorf("go.mod lacks %s", want)
		}
	}
	if len(r.Pending) != 2 || !strings.Contains(r.Pending[0], "go.sum") || !strings.Contains(r.Pending[1], "github.com/k3s-io/etcd modules") {
		t.Errorf("pending %q", r.Pending)
	}
	if c := r.Closing(); !strings.Contains(c, "NOT finished") {
		t.Errorf("closing %q", c)
	}
}

// TestChecksumTablesAndComponentList, on kubespray's real tree before its
// move to 3.6.8: the README's component list is the version shipped (a
// pin, moved), the checksum table's 3.5.27 entries are never renamed,
// and the bump names each table that lacks a 3.6.8 entry as a TO DO.
func TestChecksumTablesAndComponentList(t *testing.T) {
	tree := t.TempDir()
	testutil.Must(t, copyTree("testdata/bump-corpus/kubespray-3.6.8/before", tree))
	cat, _ := catalog.Default()
	r, err := Bump(tree, "3.6.8", BumpOptions{Catalog: cat, From: []string{"3.5.27"}})
	testutil.Must(t, err)
	readme := strings.Join(fileLines(t, filepath.Join(tree, "README.md")), "\n")
	if !strings.Contains(readme, "[etcd](https://github.com/etcd-io/etcd) 3.6.8") {
		t.Error("the README's component list was not moved")
	}
	sums := strings.Join(fileLines(t, filepath.Join(tree, "roles/kubespray_defaults/vars/main/checksums.yml")), "\n")
	if strings.Contains(sums, "3.6.8:") || !strings.Contains(sums, "3.5.27:") {
		t.Error("a checksum entry was renamed")
	}
	if len(r.Pending) != 3 || !strings.Contains(r.Pending[0], "etcd_binary_checksums.") || !strings.Contains(r.Pending[0], "v3.6.8/SHA256SUMS") {
		t.Errorf("pending %q", r.Pending)
	}

	// kubespray's table for arm, where etcd publishes no archive, is all
	// 0: the new release's entry is 0 too, written offline, as upstream
	// wrote it for 3.5.16; the three others are left to do.
	old := t.TempDir()
	testutil.Must(t, copyTree("testdata/bump-corpus/kubespray-3.5.16/before", old))
	r, err = Bump(old, "3.5.16", BumpOptions{Catalog: cat, From: []string{"3.5.12"}})
	testutil.Must(t, err)
	sums = strings.Join(fileLines(t, filepath.Join(old, "roles/kubespray-defaults/defaults/main/checksums.yml")), "\n")
	if !strings.Contains(sums, "  arm:\n    v3.5.16: 0\n    v3.5.12: 0\n") {
		t.Error("the arm table did not get its 0 entry")
	}
	if len(r.Pending) != 3 || strings.Contains(strings.Join(r.Pending, "\n"), "checksums.arm ") {
		t.Errorf("pending %q", r.Pending)
	}
}

// TestBumpMovesGoModAsGo, on coredns' real go.mod before Dependabot moved
// it to 3.6.13: with the go command, the bump's go.mod and go.sum are
// what Dependabot's go get and go mod tidy wrote; offline, go.mod holds
// the text rewrite and go.sum is named as left to do. On cluster-api's
// tree, the test module that replaces the moved one by ../ is named too.
func TestBumpMovesGoModAsGo(t *testing.T) {
	c := "testdata/bump-corpus/coredns-3.6.13"
	tree := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(c, "before"), tree))
	writeStub(t, tree, filepath.Join(c, "imports", "imports.txt"))
	r, err := Bump(tree, "3.6.13", BumpOptions{From: []string{"3.6.12"}, Go: "go"})
	testutil.Must(t, err, "bump")
	if len(r.Pending) > 0 {
		t.Fatalf("pending: %v", r.Pending)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		want, got := fileLines(t, filepath.Join(c, "after", f)), fileLines(t, filepath.Join(tree, f))
		if d, e := added(want, got), added(got, want); len(d)+len(e) > 0 {
			t.Errorf("%s differs from Dependabot's: ours adds %q, lacks %q", f, d, e)
		}
	}
	offline := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(c, "before"), offline))
	r, err = Bump(offline, "3.6.13", BumpOptions{From: []string{"3.6.12"}})
	testutil.Must(t, err, "offline bump")
	if len(r.Pending) != 1 || !strings.Contains(r.Pending[0], "go.sum") {
		t.Errorf("offline: pending %v", r.Pending)
	}
	ca := t.TempDir()
	testutil.Must(t, copyTree("testdata/bump-corpus/cluster-api-3.5.1/before", ca))
	r, err = Bump(ca, "3.5.1", BumpOptions{From: []string{"3.5.0"}})
	testutil.Must(t, err, "cluster-api bump")
	if !slices.ContainsFunc(r.Pending, func(p string) bool {
		return strings.Contains(p, "test/go.mod") && strings.Contains(p, "go mod tidy in test")
	}) {
		t.Errorf("the test module replacing ../ is not named: %v", r.Pending)
	}
}

// TestBumpSumsWhenGoGetCannot, on rke2's real tree before its move to
// 3.6.14 (etcd replaced by the k3s-io fork): go get cannot resolve rke2's
// whole graph through this machine's proxy (a k3s pseudo-version is
// refused), but go.sum still gets upstream's hashes of every moved etcd
// module and fork release, downloaded alone; go.sum stays a thing to do
// (go mod tidy), and the fork's releases, found, are no longer "assumed".
func TestBumpSumsWhenGoGetCannot(t *testing.T) {
	c := "testdata/bump-corpus/rke2-3.6.14"
	tree := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(c, "before"), tree))
	r, err := Bump(tree, "3.6.14", BumpOptions{From: []string{"3.6.12"}, Go: "go"})
	testutil.Must(t, err, "bump")
	want := added(fileLines(t, filepath.Join(c, "before", "go.sum")), fileLines(t, filepath.Join(c, "after", "go.sum")))
	got := strings.Join(fileLines(t, filepath.Join(tree, "go.sum")), "\n")
	n := 0
	for _, l := range want {
		if strings.Contains(l, "etcd") && strings.Contains(l, "v3.6.14") {
			n++
			if !strings.Contains(got, l) {
				t.Errorf("go.sum lacks upstream's %s", l)
			}
		}
	}
	if n < 12 {
		t.Fatalf("only %d etcd lines in upstream's go.sum change", n)
	}
	for _, p := range r.Pending {
		if strings.Contains(p, "is assumed") {
			t.Errorf("pending: %s", p)
		}
	}
}

// TestChecksumsFromSHA256SUMS, on kubespray's tree before its bump to
// 3.6.10: given the release's SHA256SUMS, each etcd_binary_checksums
// table gets the 3.6.10 entry upstream wrote, in the same form and place
// (newest first); without it, each table is named as left to do. The sums
// are etcd v3.6.10's, as kubespray's commit 7b3486a13 recorded them (the
// release page is not reachable from here).
func TestChecksumsFromSHA256SUMS(t *testing.T) {
	c := "testdata/bump-corpus/kubespray-3.6.10"
	sums := filepath.Join(t.TempDir(), "SHA256SUMS")
	testutil.Must(t, os.WriteFile(sums, []byte(`ed579fafab5701e3aaa95509969e7bc74776a4ae5269d32e3928408b406456ec  etcd-v3.6.10-linux-amd64.tar.gz
e40dc34b7a512b99c651f7700c1014e9b76e02415e2e24365b248966b173524c  etcd-v3.6.10-linux-arm64.tar.gz
2892716d2826deed1ea392c91651ebabe1da35c5e71964d842fdcd424adb71c1  etcd-v3.6.10-linux-ppc64le.tar.gz
`), 0o644))
	cs, err := ReadChecksums(sums)
	testutil.Must(t, err)
	tree := t.TempDir()
	testutil.Must(t, copyTree(filepath.Join(c, "before"), tree))
	r, err := Bump(tree, "3.6.10", BumpOptions{From: []string{"3.6.9"}, Checksums: cs})
	testutil.Must(t, err)
	if len(r.Pending) > 0 {
		t.Errorf("pending with the sums given: %v", r.Pending)
	}
	f := "roles/kubespray_defaults/vars/main/checksums.yml"
	before, want, got := fileLines(t, filepath.Join(c, "before", f)), fileLines(t, filepath.Join(c, "after", f)), fileLines(t, filepath.Join(tree, f))
	ours, theirs := added(before, got), []string{}
	for _, l := range added(before, want) {
		if strings.Contains(l, "3.6.10") {
			theirs = append(theirs, l)
		}
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("entries written:\n%s\nupstream's:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	// Where: the line after each table's key, as upstream put it.
	for i, l := range got {
		if strings.Contains(l, "3.6.10: sha256:") && !strings.HasSuffix(got[i-1], ":") {
			t.Errorf("%s:%d: entry not first in its table: after %q", f, i+1, got[i-1])
		}
	}
	if _, err := ReadChecksums(filepath.Join(c, "README.md")); err == nil || !strings.Contains(err.Error(), "SHA256SUMS form") {
		t.Errorf("a file that is not SHA256SUMS: %v", err)
	}
}

// TestImageBuildOfItsOwn, on etcd-druid's real image vector before its
// move to 3.4.26: the etcd image's tag v3.4.13-bootstrap-12 carries a
// build of gardener's own, so the bump finds it, leaves it, and says the
// tag built for 3.4.26 is needed (upstream wrote v3.4.26-2), where it
// used to find no pin at all. An architecture after the version is not
// such a build: it moves with the release.
func TestImageBuildOfItsOwn(t *testing.T) {
	tree := t.TempDir()
	testutil.Must(t, copyTree("testdata/bump-corpus/etcd-druid-3.4.26/before", tree))
	cat, _ := catalog.Default()
	r, err := Bump(tree, "3.4.26", BumpOptions{Catalog: cat, From: []string{"3.4.13"}})
	testutil.Must(t, err)
	if len(r.Changes) != 0 || len(r.Left) != 1 || r.Left[0].Build != "-bootstrap-12" || !strings.Contains(r.Left[0].Reason, "the tag built for 3.4.26 is not known here") {
		t.Fatalf("changes %d, left %+v", len(r.Changes), r.Left)
	}
	if got := strings.Join(fileLines(t, filepath.Join(tree, "charts/images.yaml")), "\n"); !strings.Contains(got, `tag: "v3.4.13-bootstrap-12"`) {
		t.Errorf("images.yaml changed:\n%s", got)
	}

	arch := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(arch, "etcd.yaml"), []byte("image: quay.io/coreos/etcd:v3.5.0-arm64\n"), 0o644))
	if _, err := Bump(arch, "3.5.21", BumpOptions{Catalog: cat, From: []string{"3.5.0"}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(arch, "etcd.yaml")); string(b) != "image: quay.io/coreos/etcd:v3.5.21-arm64\n" {
		t.Errorf("arch image: %q", b)
	}
}

// TestChecksumsDownloaded: without --checksums and online, the target's
// SHA256SUMS comes from the release (here a local server in GitHub's
// place, which this machine cannot reach); a release that does not
// answer leaves the tables named, and says why.
func TestChecksumsDownloaded(t *testing.T) {
	c := "testdata/bump-corpus/kubespray-3.6.10"
	sums := `ed579fafab5701e3aaa95509969e7bc74776a4ae5269d32e3928408b406456ec  etcd-v3.6.10-linux-amd64.tar.gz
e40dc34b7a512b99c651f7700c1014e9b76e02415e2e24365b248966b173524c  etcd-v3.6.10-linux-arm64.tar.gz
2892716d2826deed1ea392c91651ebabe1da35c5e71964d842fdcd424adb71c1  etcd-v3.6.10-linux-ppc64le.tar.gz
`
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/v3.6.10/SHA256SUMS" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, sums)
	}))
	defer srv.Close()
	f := "roles/kubespray_defaults/vars/main/checksums.yml"
	for _, base := range []string{srv.URL, srv.URL + "/missing"} {
		tree := t.TempDir()
		testutil.Must(t, copyTree(filepath.Join(c, "before"), tree))
		r, err := Bump(tree, "3.6.10", BumpOptions{From: []string{"3.6.9"}, Releases: base})
		testutil.Must(t, err)
		got := strings.Join(fileLines(t, filepath.Join(tree, f)), "\n")
		written := strings.Count(got, "3.6.10: sha256:")
		if base == srv.URL {
			if len(r.Pending) > 0 || written != 3 {
				t.Errorf("downloaded: %d entries written, pending %v", written, r.Pending)
			}
			continue
		}
		said := strings.Join(r.Pending, "\n")
		if written != 0 || !strings.Contains(said, "404") || !strings.Contains(said, "etcd_binary_checksums.amd64 has no 3.6.10 entry") {
			t.Errorf("release not found: %d entries written, pending:\n%s", written, said)
		}
	}
	if len(asked) != 2 {
		t.Errorf("asked %v", asked)
	}
}
