package snapshot

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// A snapshot saved into a directory leaves the page cache once it is
// durable and inspected: a backup the size of the database does not push
// the member's pages out on its host. The inspection still reads it.
func TestDirPutDropsItsPages(t *testing.T) {
	st := Dir{Path: t.TempDir()}
	if !fsutil.DropsPages(st.Path) {
		t.Skipf("%s keeps a file's pages after a drop (tmpfs?)", st.Path)
	}
	data := bytes.Repeat([]byte("etcd"), 4<<20)
	var inspected float64
	err := st.Put(context.Background(), "s.db", bytes.NewReader(data), func(staged string) (*Sidecar, error) {
		r, err := fsutil.Resident(staged)
		inspected = r
		return &Sidecar{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inspected != 1 {
		t.Fatalf("staged file %v in the page cache while inspected, want all of it", inspected)
	}
	r, err := fsutil.Resident(st.File("s.db"))
	if err != nil {
		t.Fatal(err)
	}
	if r > 0.1 {
		t.Fatalf("saved snapshot %v in the page cache, want about 0", r)
	}
	f, err := st.Get(context.Background(), "s.db")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v; want the %d written", len(got), err, len(data))
	}
}
