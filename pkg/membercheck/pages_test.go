package membercheck

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// backendFile writes a bbolt file laid out as etcd's backend: the
// buckets etcd makes, members (n of them, learners every third) and
// removed IDs, and a key bucket of filler.
func backendFile(t *testing.T, members, removed, fill int, big bool) (string, *bolt.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"alarm", "auth", "authRoles", "authUsers", "cluster", "key", "lease", "meta", "members", "members_removed"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		mb, rb, kb := tx.Bucket([]byte("members")), tx.Bucket([]byte("members_removed")), tx.Bucket([]byte("key"))
		for i := 1; i <= members; i++ {
			m := Member{ID: uint64(i) * 0x1000003, Name: fmt.Sprintf("member-%d", i), PeerURLs: []string{fmt.Sprintf("https://10.0.%d.%d:2380", i/250, i%250)}, IsLearner: i%3 == 0}
			if big && i == 1 {
				m.Name = strings.Repeat("n", 20000) // a value over several pages
			}
			v, _ := json.Marshal(m)
			if err := mb.Put([]byte(fmt.Sprintf("%016x", m.ID)), v); err != nil {
				return err
			}
		}
		for i := 1; i <= removed; i++ {
			if err := rb.Put([]byte(fmt.Sprintf("%x", uint64(i)*0x77)), []byte("removed")); err != nil {
				return err
			}
		}
		for i := 0; i < fill; i++ {
			if err := kb.Put(revision(i+2), make([]byte, 1000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, db
}

// revision is a key of etcd's key bucket: the revision's main and sub
// parts, big-endian, joined by '_'.
func revision(main int) []byte {
	k := make([]byte, 17)
	binary.BigEndian.PutUint64(k, uint64(main))
	k[8] = '_'
	return k
}

// TestReadPagesMatchesBbolt: the page reader finds what bbolt finds, on
// inline buckets (a few members), buckets of their own pages, buckets
// deep enough for branch pages, and a value over several pages; it reads
// a few pages whatever the file's size.
func TestReadPagesMatchesBbolt(t *testing.T) {
	for _, c := range []struct {
		name                   string
		members, removed, fill int
		big                    bool
	}{
		{"inline", 3, 1, 0, false},
		{"no-removed", 5, 0, 10, false},
		{"own-pages", 60, 40, 1000, false},
		{"branches", 3000, 2000, 20000, false},
		{"overflow", 5, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, db := backendFile(t, c.members, c.removed, c.fill, c.big)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, read, err := ReadPages(f) // bbolt holds the file's lock, as etcd does
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			want, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Members) != c.members || len(want.Removed) != c.removed || !reflect.DeepEqual(got, want) {
				t.Fatalf("pages: %d members, %d removed; bbolt: %d, %d", len(got.Members), len(got.Removed), len(want.Members), len(want.Removed))
			}
			fi, _ := f.Stat()
			t.Logf("%s: read %d of %d bytes", c.name, read, fi.Size())
			if c.fill >= 20000 && read*50 > fi.Size() {
				t.Errorf("read %d bytes of a %d-byte file", read, fi.Size())
			}
		})
	}
}

// movingFile commits two transactions before every read: the pages read
// may already be reused.
type movingFile struct {
	f  *os.File
	db *bolt.DB
}

func (m movingFile) ReadAt(p []byte, off int64) (int, error) {
	for i := 0; i < 2; i++ {
		m.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("key")).Put([]byte(fmt.Sprint("tick", i)), []byte(fmt.Sprint(off)))
		})
	}
	return m.f.ReadAt(p, off)
}

// TestReadPagesRefusesAMovingFile: a file that changes under every
// attempt is ErrMoving, never a half-read answer; garbage is an error.
func TestReadPagesRefusesAMovingFile(t *testing.T) {
	path, db := backendFile(t, 3, 1, 100, false)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := ReadPages(movingFile{f, db}); !errors.Is(err, ErrMoving) {
		t.Fatalf("moving file: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte(strings.Repeat("etcd", 4096)), 0o600)
	j, _ := os.Open(junk)
	defer j.Close()
	if _, _, err := ReadPages(j); err == nil || !strings.Contains(err.Error(), "no valid bbolt meta page") {
		t.Fatalf("junk: %v", err)
	}
}
