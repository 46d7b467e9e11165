package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Store keeps snapshots and their sidecars: a local directory (Dir) or
// S3-compatible object storage (S3). Snapshots move through it as
// streams; every snapshot command, the pre-change snapshot and the agent
// go through it.
type Store interface {
	// String names the store for messages ("/backups", "s3://b/p/").
	String() string
	// Location is where a snapshot of that name is ("/backups/NAME",
	// "s3://b/p/NAME").
	Location(name string) string
	// Put stores what r yields under name, never replacing an existing
	// name (fsutil.ErrExists). Once r has ended, commit decides: it gets
	// the local file holding the bytes where the store staged them on
	// this machine ("" otherwise) and returns the sidecar to publish with
	// them, or an error, which leaves nothing under the name.
	Put(ctx context.Context, name string, r io.Reader, commit Commit) error
	// Get opens a snapshot for reading; a read that reaches the end
	// without an error has been checked against what the store recorded.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Exists reports whether a snapshot of that name is there.
	Exists(ctx context.Context, name string) (bool, error)
	// List returns the snapshots, newest first, and incomplete uploads.
	List(ctx context.Context) ([]Entry, error)
	// Delete removes a snapshot and its sidecar (or an abandoned
	// incomplete file).
	Delete(ctx context.Context, name string) error
	// Sidecar reads a snapshot's sidecar (os.ErrNotExist when none).
	Sidecar(ctx context.Context, name string) (*Sidecar, error)
	// PutSidecar replaces a snapshot's sidecar.
	PutSidecar(ctx context.Context, name string, sc *Sidecar) error
}

// Commit decides whether a Put is published; see Store.Put.
type Commit func(staged string) (*Sidecar, error)

// LocalFiles is a store whose snapshots are files on this machine:
// readers use them in place, and a save is verified where it was staged.
type LocalFiles interface {
	File(name string) string
}

// Dir is a store in a local directory: NAME and NAME.json.
type Dir struct{ Path string }

func (d Dir) String() string { return d.Path }

// Writable checks that snapshots can be written into the directory (a
// capability callers discover: a long-running agent says at start that
// its store is read-only, instead of at the first backup).
func (d Dir) Writable() error {
	f, err := os.CreateTemp(d.Path, ".etcdpilot-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write snapshots there: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Location is the file's path.
func (d Dir) Location(name string) string { return d.File(name) }

// File is the snapshot's path.
func (d Dir) File(name string) string { return filepath.Join(d.Path, name) }

// Put streams r into a 0600 temporary file in the directory (its
// writeback started as it arrives), then lets commit inspect it in
// place while it is fsynced; only then is it linked to its name, never
// replacing one, and the sidecar written.
func (d Dir) Put(ctx context.Context, name string, r io.Reader, commit Commit) error {
	tmp, err := fsutil.CreateTemp(d.File(name), 0o600)
	if err != nil {
		return err
	}
	defer tmp.Abort() // no-op once published
	if _, err := io.CopyBuffer(&writeBehind{f: tmp.File}, r, make([]byte, 1<<20)); err != nil {
		return err
	}
	synced := make(chan error, 1)
	go func() { synced <- tmp.Sync() }()
	sc, err := commit(tmp.Name())
	if serr := <-synced; err == nil && serr != nil {
		err = fmt.Errorf("fsync %s: %w", tmp.Name(), serr)
	}
	if err != nil {
		return err
	}
	// Durable and inspected: its pages are dropped from the page cache,
	// so that a backup the size of the database does not push the
	// member's own pages out on the host it runs on (the in-place check
	// read them again, which marks them as in use).
	fsutil.DropCache(tmp.File)
	if err := tmp.Publish(); err != nil {
		return err
	}
	if err := WriteSidecar(d.File(name), sc); err != nil {
		return fmt.Errorf("snapshot saved as %s but its sidecar could not be written: %w", d.File(name), err)
	}
	return nil
}

// Get opens the file.
func (d Dir) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return os.Open(d.File(name))
}

// Exists stats the file.
func (d Dir) Exists(ctx context.Context, name string) (bool, error) {
	_, err := os.Stat(d.File(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// List returns the *.db snapshots, newest first (by the sidecar's time,
// else the file's), and the temporary files of saves that never finished.
func (d Dir) List(ctx context.Context) ([]Entry, error) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, e := range entries {
		n := e.Name()
		fi, err := e.Info()
		if err != nil || e.IsDir() {
			continue
		}
		p := d.File(n)
		if strings.HasPrefix(n, ".") && strings.Contains(n, fsutil.TempSuffix) && strings.Contains(n, ".db") {
			state := "in progress"
			if fsutil.Abandoned(p) {
				state = "abandoned"
			}
			out = append(out, Entry{File: p, Name: n, Size: fi.Size(), Time: fi.ModTime().UTC(), Incomplete: state})
			continue
		}
		if !IsSnapshotName(n) || strings.HasPrefix(n, ".") {
			continue
		}
		en := Entry{File: p, Name: n, Size: fi.Size(), Time: fi.ModTime().UTC()}
		if sc, err := ReadSidecar(p); err == nil {
			en.Sidecar, en.SidecarOK = sc, true
			en.Time, en.Verified, en.Drilled = sc.CreatedAt, sc.VerifiedAt, sc.DrilledAt
		}
		out = append(out, en)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Delete removes the file and its sidecar.
func (d Dir) Delete(ctx context.Context, name string) error {
	if err := os.Remove(d.File(name)); err != nil {
		return err
	}
	if err := os.Remove(SidecarPath(d.File(name))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Sidecar reads NAME.json.
func (d Dir) Sidecar(ctx context.Context, name string) (*Sidecar, error) {
	return ReadSidecar(d.File(name))
}

// PutSidecar writes NAME.json atomically.
func (d Dir) PutSidecar(ctx context.Context, name string, sc *Sidecar) error {
	return WriteSidecar(d.File(name), sc)
}

// fetchRaw makes a snapshot a raw local file: a plain snapshot in a
// local store is used in place; any other is read from its store (and
// checked on the way), its encryption and compression undone, into a 0600
// temporary file — beside it for a local store, in the system's
// temporary directory otherwise. Call done when finished with it.
func fetchRaw(ctx context.Context, store Store, name, identity string) (string, func(), error) {
	rc, err := store.Get(ctx, name)
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	head, _ := br.Peek(len(ageMagic))
	lf, local := store.(LocalFiles)
	if local && !encoded(head) {
		return lf.File(name), func() {}, nil
	}
	r, closeDecoder, err := decodeStream(br, head, store.Location(name), identity)
	if err != nil {
		return "", nil, err
	}
	defer closeDecoder()
	dir := os.TempDir()
	if local {
		dir = filepath.Dir(lf.File(name))
	}
	out, err := os.CreateTemp(dir, "."+name+".raw-*")
	if err != nil {
		if out, err = os.CreateTemp("", "etcdpilot-raw-*"); err != nil {
			return "", nil, err
		}
	}
	done := func() { os.Remove(out.Name()) }
	_, err = io.CopyBuffer(out, r, make([]byte, 1<<20))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		done()
		return "", nil, fmt.Errorf("%s: %w", store.Location(name), err)
	}
	return out.Name(), done, nil
}

// FetchRaw makes a stored snapshot a raw local file (see fetchRaw): the
// file may be the stored one itself, so callers only read it.
func FetchRaw(ctx context.Context, store Store, name, identity string) (string, func(), error) {
	return fetchRaw(ctx, store, name, identity)
}
