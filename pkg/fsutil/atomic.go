// Package fsutil holds the file-system primitives that keep etcdpilot's files
// whole: write to a temporary file, fsync it, rename it into place and fsync
// the directory; and advisory file locks.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"golang.org/x/sys/unix"
)

// WriteFile atomically replaces path with data: a crash leaves either the old
// file or the new one, never a partial file under path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteWith(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith is WriteFile with the content produced by fill.
func WriteWith(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := CreateTemp(path, perm)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// TempFile is a temporary file beside its final path. Commit fsyncs it,
// renames it into place and fsyncs the directory; Abort removes it.
type TempFile struct {
	*os.File
	final string
	done  bool
}

// TempSuffix is in the name of every temporary file ("." + base +
// TempSuffix + random), so that listings can tell them apart.
const TempSuffix = ".tmp-"

// CreateTemp opens a temporary file in path's directory with mode perm.
// The file is write-locked for as long as it is open, so that a listing
// can tell a write in progress (locked) from one a killed process left
// behind (see Abandoned). The lock is an open-file-description lock
// (fcntl F_OFD_SETLK): it goes with the descriptor like flock, but does not
// collide with the flock bbolt takes to read the file.
func CreateTemp(path string, perm os.FileMode) (*TempFile, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+TempSuffix+"*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	ofdLock(f, unix.F_WRLCK)
	return &TempFile{File: f, final: path}, nil
}

func ofdLock(f *os.File, typ int16) error {
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &unix.Flock_t{Type: typ, Whence: 0})
}

// Abandoned reports whether a temporary file (from CreateTemp) was left
// behind by a process that is gone: nobody holds its lock.
func Abandoned(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := ofdLock(f, unix.F_RDLCK); err != nil {
		return false
	}
	ofdLock(f, unix.F_UNLCK)
	return true
}

// Commit makes the file durable under its final name.
func (t *TempFile) Commit() error {
	if t.done {
		return fmt.Errorf("%s: already committed or aborted", t.final)
	}
	t.done = true
	if err := t.Sync(); err != nil {
		t.Close()
		os.Remove(t.Name())
		return fmt.Errorf("fsync %s: %w", t.Name(), err)
	}
	if err := t.Close(); err != nil {
		os.Remove(t.Name())
		return err
	}
	if err := os.Rename(t.Name(), t.final); err != nil {
		os.Remove(t.Name())
		return err
	}
	return SyncDir(filepath.Dir(t.final))
}

// Publish makes the file durable under its final name without replacing
// a file that is there already (another writer may have won a race): it
// fsyncs the file, hard-links it to the final name (which fails when that
// name exists), removes the temporary name and fsyncs the directory.
// ErrExists reports a name that was taken; the temporary file is removed
// either way.
func (t *TempFile) Publish() error {
	if t.done {
		return fmt.Errorf("%s: already committed or aborted", t.final)
	}
	t.done = true
	defer os.Remove(t.Name())
	if err := t.Sync(); err != nil {
		t.Close()
		return fmt.Errorf("fsync %s: %w", t.Name(), err)
	}
	if err := t.Close(); err != nil {
		return err
	}
	if err := os.Link(t.Name(), t.final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, t.final)
		}
		return err
	}
	if err := os.Remove(t.Name()); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(t.final))
}

// ErrExists means a file was not published because its name is taken.
var ErrExists = errors.New("already exists")

// Abort closes and removes the temporary file; it is a no-op after Commit.
func (t *TempFile) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.Close()
	os.Remove(t.Name())
}

// SyncDir fsyncs a directory so that a rename or create in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Exists reports whether path exists.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// DirEmpty reports whether dir is missing or has no entries.
func DirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// CopyFile copies a regular file's content to a new file at to, created
// with perm (replacing one that is there only when replace is set).
func CopyFile(from, to string, perm os.FileMode, replace bool) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if replace {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	out, err := os.OpenFile(to, flags, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CopyTree copies the directory from into to, which must not exist:
// directories, regular files (synced) and symlinks, with their modes. It
// is built under a temporary name beside to and renamed into place, so a
// crash leaves no half copy under the final name.
func CopyTree(from, to string) error {
	if Exists(to) {
		return fmt.Errorf("%s already exists", to)
	}
	tmp := to + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.Type().IsRegular():
			if err := CopyFile(p, dst, info.Mode().Perm(), false); err != nil {
				return err
			}
			f, err := os.Open(dst)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Sync()
		}
		return nil // sockets, devices: not part of a data directory
	})
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return SyncDir(filepath.Dir(to))
}

// DirSize is the size of the regular files under dir (what it can read).
func DirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// FreeBytes is the space an unprivileged writer has left on dir's
// filesystem.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// NeedSpace refuses when dir's filesystem has less than need bytes free
// (plus a 64 MiB margin), saying what for.
func NeedSpace(dir string, need int64, what string) error {
	free, err := FreeBytes(dir)
	if err != nil {
		return nil // a filesystem that cannot tell: the write itself will say
	}
	if free < need+64<<20 {
		return fmt.Errorf("%s needs about %s free in %s, which has %s: free space there or choose another place; nothing was written", what, progress.Bytes(need+64<<20), dir, progress.Bytes(free))
	}
	return nil
}
