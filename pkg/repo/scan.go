package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/mod/semver"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// MaxFileSize is the largest file scanned; bigger files are data, not pins.
const MaxFileSize = 4 << 20

// skipDirs are never entered: other people's code and VCS internals.
var skipDirs = map[string]bool{".git": true, "vendor": true, "node_modules": true, ".hg": true, ".svn": true}

// Result is a scan of a tree.
type Result struct {
	Root   string   `json:"root"`
	Files  int      `json:"filesScanned"`
	Pins   []Pin    `json:"pins"`
	Lines  []Line   `json:"lines"`
	Errors []string `json:"errors,omitempty"`
	// Skipped names the files that were not read: too big to be anything
	// but data (over MaxFileSize) though they name etcd.
	Skipped []string `json:"skipped,omitempty"`
	// Agree is true when the pins of every line agree.
	Agree bool `json:"agree"`
	// Version is the most common version of the most pinned line.
	Version string `json:"version,omitempty"`
	// Inventory is what a zeitgeist dependencies.yaml says, checked.
	Inventory []RefPath `json:"inventory,omitempty"`
}

// Line is one etcd minor line the repository pins.
type Line struct {
	Minor string `json:"minor"`
	// Version is the line's most common version; Versions counts each.
	Version  string         `json:"version"`
	Versions map[string]int `json:"versions"`
	Pins     int            `json:"pins"`
	Agree    bool           `json:"agree"`
}

// Scan walks dir and returns every pin, sorted by file and line.
func Scan(dir string) (*Result, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("scan %s: not a directory (give the repository's root)", dir)
	}
	res := &Result{Root: dir, Pins: []Pin{}}
	paths := make(chan string, 256)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 2*runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				pins, skipped, err := scanFile(dir, p)
				mu.Lock()
				res.Files++
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
				}
				if skipped != "" {
					res.Skipped = append(res.Skipped, skipped)
				}
				res.Pins = append(res.Pins, pins...)
				mu.Unlock()
			}
		}()
	}
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			mu.Lock()
			res.Errors = append(res.Errors, err.Error())
			mu.Unlock()
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != dir && skipDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			paths <- p
		}
		return nil
	})
	close(paths)
	wg.Wait()
	if walkErr != nil {
		return nil, walkErr
	}
	if err := res.readInventory(); err != nil {
		return nil, err
	}
	sort.Slice(res.Pins, func(i, j int) bool {
		a, b := res.Pins[i], res.Pins[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Start < b.Start
	})
	sort.Strings(res.Errors)
	sort.Strings(res.Skipped)
	res.markOldReleaseDirs()
	res.markDisagreements()
	return res, nil
}

// releaseDirRe is a directory named by a release (website/content/v1.13).
var releaseDirRe = regexp.MustCompile(`^v?\d+\.\d+$`)

// markOldReleaseDirs marks as history the pins under a directory named by
// a release when a sibling directory names a newer one: versioned docs
// (website/content/v1.13 beside v1.14) describe what an older release
// shipped; the newest is the one being prepared.
func (r *Result) markOldReleaseDirs() {
	newest := map[string]string{} // parent directory: its newest release directory
	for i := range r.Pins {
		parts := strings.Split(filepath.ToSlash(r.Pins[i].File), "/")
		for k := 0; k < len(parts)-1; k++ {
			if !releaseDirRe.MatchString(parts[k]) {
				continue
			}
			parent := strings.Join(parts[:k], "/")
			n, ok := newest[parent]
			if !ok {
				n = newestReleaseDir(filepath.Join(r.Root, filepath.FromSlash(parent)))
				newest[parent] = n
			}
			if n != "" && semver.Compare(semverOf(parts[k]), semverOf(n)) < 0 {
				r.Pins[i].History = true
			}
		}
	}
}

// newestReleaseDir is the newest directory of dir named by a release.
func newestReleaseDir(dir string) string {
	entries, _ := os.ReadDir(dir)
	best := ""
	for _, e := range entries {
		if e.IsDir() && releaseDirRe.MatchString(e.Name()) && (best == "" || semver.Compare(semverOf(e.Name()), semverOf(best)) > 0) {
			best = e.Name()
		}
	}
	return best
}

func semverOf(d string) string { return "v" + strings.TrimPrefix(d, "v") }

// scanFile reads one file and finds its pins; binary files are passed
// over, and a file over MaxFileSize that names etcd in its first
// megabyte is not read but named (skipped).
func scanFile(root, p string) (pins []Pin, skipped string, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %v", p, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	rel, rerr := filepath.Rel(root, p)
	if rerr != nil {
		rel = p
	}
	rel = filepath.ToSlash(rel)
	if st.Size() > MaxFileSize {
		head := make([]byte, 1<<20)
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		if bytes.IndexByte(head[:min(n, 8000)], 0) < 0 && namesEtcd(head) {
			return nil, fmt.Sprintf("%s (%d MiB, over the %d MiB a pin file can be: not read)", rel, st.Size()>>20, MaxFileSize>>20), nil
		}
		return nil, "", nil
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %v", p, err)
	}
	head := b
	if len(head) > 8000 {
		head = head[:8000]
	}
	if bytes.IndexByte(head, 0) >= 0 || !namesEtcd(b) && !namesEtcd([]byte(path.Dir(rel))) {
		return nil, "", nil
	}
	return scanLines(rel, strings.Split(string(b), "\n")), "", nil
}

func namesEtcd(b []byte) bool {
	return bytes.Contains(b, []byte("etcd")) || bytes.Contains(b, []byte("ETCD")) || bytes.Contains(b, []byte("Etcd"))
}

// MarkUnreleased marks the test and docs pins at versions the release
// catalog does not list (unlisted is its word) and judges agreement again
// without them.
func (r *Result) MarkUnreleased(unlisted func(v string) bool) {
	for i, p := range r.Pins {
		if (p.Test || docFile(p.File)) && unlisted(p.Version) {
			r.Pins[i].Unreleased = true
			r.Pins[i].Disagrees = false
		}
	}
	r.markDisagreements()
}

// compared says whether a pin counts for its line's agreement: minimums
// and history are reported, never compared; go.mod's modules are compared
// among themselves.
func compared(p Pin) bool { return p.Rewritable() }

// markDisagreements groups the pins by minor line and marks those that
// differ from their line's most common version: server pins among
// themselves, go.mod's etcd modules among themselves.
func (r *Result) markDisagreements() {
	r.Agree = true
	byMinor := map[string][]int{}
	for i, p := range r.Pins {
		if compared(p) && (p.Kind != KindGoMod || lockstepModule(p.Module)) {
			byMinor[p.Minor] = append(byMinor[p.Minor], i)
		}
	}
	var minors []string
	for m := range byMinor {
		minors = append(minors, m)
	}
	sort.Slice(minors, func(i, j int) bool { return version.Compare(minors[i]+".0", minors[j]+".0") < 0 })
	most := 0
	r.Lines = []Line{}
	for _, minor := range minors {
		idx := byMinor[minor]
		line := Line{Minor: minor, Versions: map[string]int{}, Pins: len(idx), Agree: true}
		for _, goMod := range []bool{false, true} {
			count := map[string]int{}
			for _, i := range idx {
				if (r.Pins[i].Kind == KindGoMod) == goMod {
					count[r.Pins[i].Version]++
					line.Versions[r.Pins[i].Version]++
				}
			}
			common := commonest(count)
			if line.Version == "" {
				line.Version = common // server pins first, else go.mod's
			}
			for _, i := range idx {
				if (r.Pins[i].Kind == KindGoMod) == goMod && r.Pins[i].Version != common {
					r.Pins[i].Disagrees = true
					line.Agree = false
					r.Agree = false
				}
			}
		}
		if len(idx) > most {
			most, r.Version = len(idx), line.Version
		}
		r.Lines = append(r.Lines, line)
	}
}

// commonest is the most frequent version (the newest on a tie).
func commonest(count map[string]int) string {
	common := ""
	for v, n := range count {
		if n > count[common] || (n == count[common] && version.Compare(v, common) > 0) {
			common = v
		}
	}
	return common
}

// lockstepModule says whether a module moves with etcd's own version
// (go.etcd.io/raft and bbolt do not; legacy paths are reported apart).
func lockstepModule(m string) bool {
	return strings.HasPrefix(m, "go.etcd.io/etcd/")
}
