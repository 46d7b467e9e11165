package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// MaxFileSize is the largest file scanned; bigger files are data, not pins.
const MaxFileSize = 4 << 20

// skipDirs are never entered: other people's code and VCS internals.
var skipDirs = map[string]bool{".git": true, "vendor": true, "node_modules": true, ".hg": true, ".svn": true}

// Result is a scan of a tree.
type Result struct {
	Root    string   `json:"root"`
	Files   int      `json:"filesScanned"`
	Pins    []Pin    `json:"pins"`
	Errors  []string `json:"errors,omitempty"`
	Agree   bool     `json:"agree"`
	Version string   `json:"version,omitempty"` // the most common server version
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
				pins, err := scanFile(dir, p)
				mu.Lock()
				res.Files++
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
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
	res.markDisagreements()
	return res, nil
}

// scanFile reads one file and finds its pins; binary and huge files are
// skipped.
func scanFile(root, p string) ([]Pin, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", p, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() > MaxFileSize {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", p, err)
	}
	head := b
	if len(head) > 8000 {
		head = head[:8000]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, nil
	}
	if !bytes.Contains(b, []byte("etcd")) && !bytes.Contains(b, []byte("ETCD")) && !bytes.Contains(b, []byte("Etcd")) {
		return nil, nil
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		rel = p
	}
	return scanLines(filepath.ToSlash(rel), strings.Split(string(b), "\n")), nil
}

// markDisagreements marks pins that differ from the most common version:
// server pins among themselves, go.mod etcd modules among themselves.
func (r *Result) markDisagreements() {
	r.Agree = true
	for _, group := range []func(Pin) bool{
		func(p Pin) bool { return p.Kind != KindGoMod && p.Kind != KindMinimum },
		func(p Pin) bool { return p.Kind == KindGoMod && lockstepModule(p.Module) },
	} {
		count := map[string]int{}
		for _, p := range r.Pins {
			if group(p) {
				count[p.Version]++
			}
		}
		common := ""
		for v, n := range count {
			if n > count[common] || (n == count[common] && v > common) {
				common = v
			}
		}
		for i := range r.Pins {
			if group(r.Pins[i]) && r.Pins[i].Version != common {
				r.Pins[i].Disagrees = true
				r.Agree = false
			}
		}
		if r.Version == "" {
			r.Version = common
		}
	}
}

// lockstepModule says whether a module moves with etcd's own version
// (go.etcd.io/raft and bbolt do not; legacy paths are reported apart).
func lockstepModule(m string) bool {
	return strings.HasPrefix(m, "go.etcd.io/etcd/")
}
