package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Store keeps snapshots and their sidecars: a local directory (Dir) or,
// later, object storage. Every snapshot command and the pre-upgrade
// snapshot go through it.
type Store interface {
	// String names the store for messages ("/backups", "s3://b/p/").
	String() string
	// Put publishes the verified local file under name with its sidecar.
	// An existing name is never overwritten: fsutil.ErrExists.
	Put(ctx context.Context, name string, local *fsutil.TempFile, sc *Sidecar) error
	// Fetch makes a snapshot available as a local file; call done when
	// finished with it.
	Fetch(ctx context.Context, name string) (path string, done func(), err error)
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
	// Scratch is a directory for the temporary file a save streams into
	// (for a directory store, the directory itself, so that Put links it).
	Scratch() string
}

// Dir is a store in a local directory: NAME and NAME.json.
type Dir struct{ Path string }

func (d Dir) String() string { return d.Path }

func (d Dir) file(name string) string { return filepath.Join(d.Path, name) }

// Scratch is the directory itself.
func (d Dir) Scratch() string { return d.Path }

// Put links the temporary file to its name (never replacing one), then
// writes the sidecar.
func (d Dir) Put(ctx context.Context, name string, local *fsutil.TempFile, sc *Sidecar) error {
	if filepath.Dir(local.Name()) != filepath.Clean(d.Path) {
		return fmt.Errorf("%s is not in %s", local.Name(), d.Path)
	}
	if err := local.Publish(); err != nil {
		return err
	}
	return WriteSidecar(d.file(name), sc)
}

// Fetch returns the file itself.
func (d Dir) Fetch(ctx context.Context, name string) (string, func(), error) {
	p := d.file(name)
	if _, err := os.Stat(p); err != nil {
		return "", nil, err
	}
	return p, func() {}, nil
}

// Exists stats the file.
func (d Dir) Exists(ctx context.Context, name string) (bool, error) {
	_, err := os.Stat(d.file(name))
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
		p := d.file(n)
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
	if err := os.Remove(d.file(name)); err != nil {
		return err
	}
	if err := os.Remove(SidecarPath(d.file(name))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Sidecar reads NAME.json.
func (d Dir) Sidecar(ctx context.Context, name string) (*Sidecar, error) {
	return ReadSidecar(d.file(name))
}

// PutSidecar writes NAME.json atomically.
func (d Dir) PutSidecar(ctx context.Context, name string, sc *Sidecar) error {
	return WriteSidecar(d.file(name), sc)
}

// S3Settings are the S3 overrides of this process (--s3-endpoint,
// --s3-path-style); credentials and region come from the AWS SDK's usual
// places.
var S3Settings S3Options

// Locate splits a snapshot location (a path, or s3://bucket/prefix/NAME)
// into its store and the snapshot's name there.
func Locate(ctx context.Context, location string) (Store, string, error) {
	if location == "" {
		return nil, "", errors.New("no snapshot given")
	}
	if IsS3(location) {
		i := strings.LastIndex(location, "/")
		if i < len("s3://") || i == len(location)-1 {
			return nil, "", fmt.Errorf("%s: name the snapshot, s3://BUCKET/PREFIX/NAME.db", location)
		}
		st, err := OpenS3(ctx, location[:i+1], S3Settings)
		if err != nil {
			return nil, "", err
		}
		return st, location[i+1:], nil
	}
	if strings.Contains(location, "://") {
		return nil, "", fmt.Errorf("%s: a snapshot is a local path or s3://BUCKET/PREFIX/NAME", location)
	}
	return Dir{Path: filepath.Dir(location)}, filepath.Base(location), nil
}

// OpenStore returns the store at a location that names a directory or an
// s3://bucket/prefix/.
func OpenStore(ctx context.Context, location string) (Store, error) {
	if IsS3(location) {
		return OpenS3(ctx, location, S3Settings)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("%s: a snapshot store is a local directory or s3://BUCKET/PREFIX/", location)
	}
	st, err := os.Stat(location)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", location)
	}
	return Dir{Path: location}, nil
}

// Local makes the snapshot at location a local file (downloaded and
// checked for a remote store); call done when finished with it.
func Local(ctx context.Context, location string) (string, func(), error) {
	store, name, err := Locate(ctx, location)
	if err != nil {
		return "", nil, err
	}
	return fetchRaw(ctx, store, name)
}

// SidecarAt reads the sidecar of the snapshot at a location (a local
// path or s3://...); os.ErrNotExist when it has none.
func SidecarAt(ctx context.Context, location string) (*Sidecar, error) {
	store, name, err := Locate(ctx, location)
	if err != nil {
		return nil, err
	}
	return store.Sidecar(ctx, name)
}

// fetchRaw fetches a snapshot and undoes its compression and encryption.
func fetchRaw(ctx context.Context, store Store, name string) (string, func(), error) {
	file, done, err := store.Fetch(ctx, name)
	if err != nil {
		return "", nil, err
	}
	raw, rawDone, err := decode(file)
	if err != nil {
		done()
		return "", nil, err
	}
	return raw, func() { rawDone(); done() }, nil
}
