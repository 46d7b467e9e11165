package fsutil

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A file written and synced, then dropped, is out of the page cache; read
// back, it is in. A file system that keeps every page (tmpfs) is skipped.
func TestResidentAndDropCache(t *testing.T) {
	dir := t.TempDir()
	if !DropsPages(dir) {
		t.Skipf("%s keeps a file's pages after a drop (tmpfs?)", dir)
	}
	path := filepath.Join(dir, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte("etcd"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if r, err := Resident(path); err != nil || r != 1 {
		t.Fatalf("just written: resident %v, %v; want 1", r, err)
	}
	DropCache(f)
	r, err := Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	if r > 0.1 {
		t.Fatalf("dropped: resident %v, want about 0", r)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	if r, err := Resident(path); err != nil || r != 1 {
		t.Fatalf("read back: resident %v, %v; want 1", r, err)
	}
}
