package repo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// sumsLineRe is a line of etcd's SHA256SUMS: the hash, then the archive
// (etcd-v3.6.10-linux-amd64.tar.gz).
var sumsLineRe = regexp.MustCompile(`^([0-9a-f]{64})\s+\*?etcd-(v3\.\d+\.\d+(?:-(?:alpha|beta|rc)\.\d+)?)-linux-([\w]+)\.tar\.gz$`)

// hashRe is a SHA-256 in hex.
var hashRe = regexp.MustCompile(`\b[0-9a-fA-F]{64}\b`)

// ReadChecksums reads a release's SHA256SUMS (--checksums): the SHA-256 of
// each Linux archive, keyed by version and architecture ("3.6.10 amd64").
func ReadChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--checksums: %w", err)
	}
	defer f.Close()
	return parseChecksums(f, "--checksums "+path)
}

func parseChecksums(r io.Reader, what string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := sumsLineRe.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			out[version.Plain(m[2])+" "+m[3]] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no line of etcd's SHA256SUMS form (HASH  etcd-v3.6.10-linux-amd64.tar.gz): give the file etcd's release publishes", what)
	}
	return out, nil
}

// FetchChecksums downloads release v's SHA256SUMS from mirror (etcd's
// releases: binaries.DefaultMirror) and reads it as ReadChecksums does.
func FetchChecksums(ctx context.Context, mirror, v string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url, sums, err := binaries.FetchSHA256SUMS(ctx, mirror, "v"+version.Plain(v))
	if err != nil {
		return nil, err // it names the URL
	}
	return parseChecksums(bytes.NewReader(sums), url)
}

// needsChecksums says whether a checksum table holds a selected release
// and not the target (the bump must add the target's entry).
func needsChecksums(scan *Result, sel []selector, target string) bool {
	return len(missingChecksums(scan, sel, target, nil)) > 0
}

// checksumEntry is the new entry a checksum table needs for the target.
type checksumEntry struct {
	file, table string
	line        int // the entry is inserted before this line (1-based)
	text        string
}

// checksumEntries plans, for every checksum table that holds a selected
// release and not the target, the target's entry from sums: the same
// form as the table's entry of the selected release (v prefix, sha256:
// prefix, quotes), placed where the table's order puts it. A table whose
// architecture (its last key) sums lacks stays a thing to do.
func checksumEntries(dir string, scan *Result, sel []selector, target string, sums map[string]string) []checksumEntry {
	type table struct{ file, name string }
	entries := map[table][]Pin{}
	for _, p := range scan.Pins {
		if p.Kind == KindChecksum {
			t := table{p.File, p.Module}
			entries[t] = append(entries[t], p)
		}
	}
	var out []checksumEntry
	for t, ps := range entries {
		var model *Pin
		has := false
		for i := range ps {
			has = has || ps[i].Version == target
			if model == nil && selected(sel, ps[i]) {
				model = &ps[i]
			}
		}
		if has || model == nil {
			continue
		}
		lines, err := fileLinesOf(filepath.Join(dir, t.file))
		if err != nil || model.Line > len(lines) {
			continue
		}
		l := lines[model.Line-1]
		var text string
		if noArchives(lines, ps) {
			// Every release in the table is 0: etcd publishes no
			// archive for this architecture, nor will for the target.
			text = l[:model.Start] + newText(*model, target, "") + l[model.End:]
		} else {
			arch := t.name[strings.LastIndex(t.name, ".")+1:]
			sum := sums[target+" "+arch]
			h := hashRe.FindStringIndex(l[model.End:])
			if sum == "" || h == nil {
				continue
			}
			hashAt := model.End + h[0]
			text = l[:model.Start] + newText(*model, target, "") + l[model.End:hashAt] + sum + l[hashAt+64:]
		}
		out = append(out, checksumEntry{file: t.file, table: t.name, line: insertAt(ps, target), text: text})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].file != out[j].file {
			return out[i].file < out[j].file
		}
		return out[i].line > out[j].line // bottom up: earlier lines keep their numbers
	})
	return out
}

// noArchives says whether every entry of a checksum table is 0 (no
// archive for its architecture).
func noArchives(lines []string, ps []Pin) bool {
	for _, p := range ps {
		if p.Line > len(lines) || hashRe.MatchString(lines[p.Line-1][p.End:]) {
			return false
		}
	}
	return true
}

// insertAt is where a table's entries (in file order) put the target:
// before the first older one when the table lists the newest first, after
// the last older one when it lists the oldest first.
func insertAt(ps []Pin, target string) int {
	older := func(p Pin) bool { return version.Compare(p.Version, target) < 0 }
	if len(ps) > 1 && version.Compare(ps[0].Version, ps[len(ps)-1].Version) > 0 {
		for _, p := range ps {
			if older(p) {
				return p.Line
			}
		}
		return ps[len(ps)-1].Line + 1
	}
	at := ps[0].Line
	for _, p := range ps {
		if older(p) {
			at = p.Line + 1
		}
	}
	return at
}

// addChecksums inserts the planned entries into the changes (a file's
// existing change, or a new one) and returns the tables it filled.
func (r *BumpResult) addChecksums(dir string, entries []checksumEntry) (map[string]bool, error) {
	filled := map[string]bool{}
	for _, e := range entries {
		i := slices.IndexFunc(r.Changes, func(c FileChange) bool { return c.File == e.file })
		if i < 0 {
			old, err := os.ReadFile(filepath.Join(dir, e.file))
			if err != nil {
				return nil, err
			}
			r.Changes = append(r.Changes, FileChange{File: e.file, Pins: []Pin{}, old: old, new: old})
			i = len(r.Changes) - 1
		}
		c := &r.Changes[i]
		lines := strings.Split(string(c.new), "\n")
		at := min(e.line-1, len(lines))
		lines = append(lines[:at], append([]string{e.text}, lines[at:]...)...)
		c.new = []byte(strings.Join(lines, "\n"))
		d, err := diffBytes(c.File, c.old, c.new)
		if err != nil {
			return nil, err
		}
		c.Diff = d
		filled[e.file+"\x00"+e.table] = true
	}
	return filled, nil
}

func fileLinesOf(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\n"), nil
}
