package fsutil

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteWith(p, 0o600, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("want error")
	}
	b, _ := os.ReadFile(p)
	if string(b) != "one" {
		t.Fatalf("file changed by a failed write: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l")
	l, err := TryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := LockWait(ctx, p, nil); err == nil {
		t.Fatal("LockWait should time out")
	}
	l.Unlock()
	l2, err := TryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
}

// Publish never replaces a file another writer published first, and a
// temporary file is "abandoned" only once nobody holds it open.
func TestPublishWithoutOverwrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "snap.db")
	a, err := CreateTemp(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateTemp(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if Abandoned(a.Name()) {
		t.Fatal("a temporary file being written counts as abandoned")
	}
	a.WriteString("first")
	b.WriteString("second")
	if err := a.Publish(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(); !errors.Is(err, ErrExists) {
		t.Fatalf("second publish: %v", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "first" {
		t.Fatalf("published file is %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	// A temp file whose writer is gone (closed without Abort, as after a
	// kill) is abandoned.
	c, _ := CreateTemp(p, 0o600)
	c.File.Close()
	if !Abandoned(c.Name()) {
		t.Fatal("a closed temporary file is not abandoned")
	}
}
