package membercheck

import (
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writeTo opens streams of db as etcd's Maintenance.Snapshot makes them:
// bbolt's Tx.WriteTo, through a pipe the reader may close early.
func writeTo(db *bolt.DB) Opener {
	return func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(db.View(func(tx *bolt.Tx) error {
				_, err := tx.WriteTo(pw)
				return err
			}))
		}()
		return pr, nil
	}
}

// TestFromStreamMatchesBbolt: the lookup made from a backend's stream
// finds what bbolt finds, on inline buckets, buckets of their own pages,
// branch pages and a value over several pages, and on buckets whose
// pages come before the root's in the file (a second stream keeps them);
// it reads no more of the stream than the file holds.
func TestFromStreamMatchesBbolt(t *testing.T) {
	streams := map[int]bool{}
	for _, c := range []struct {
		name                   string
		members, removed, fill int
		big                    bool
		after                  int   // filler written in a later transaction
		kept                   int64 // maxKept, where not the default
	}{
		{"inline", 3, 1, 0, false, 0, 0},
		{"no-removed", 5, 0, 10, false, 0, 0},
		{"own-pages", 60, 40, 1000, false, 0, 0},
		{"branches", 3000, 2000, 20000, false, 0, 0},
		{"overflow", 5, 0, 0, true, 0, 0},
		{"buckets-before-root", 60, 40, 0, false, 3000, 0},
		{"inline-then-fill", 3, 1, 0, false, 3000, 0},
		// Too little room to keep the pages passed: the next streams keep
		// those the ones before read.
		{"second-stream", 60, 40, 0, false, 3000, 32 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, db := backendFile(t, c.members, c.removed, c.fill, c.big)
			if c.after > 0 {
				err := db.Update(func(tx *bolt.Tx) error {
					for i := 0; i < c.after; i++ {
						if err := tx.Bucket([]byte("key")).Put(revision(1e6+i), make([]byte, 1000)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.kept > 0 {
				defer func(k int64) { maxKept = k }(maxKept)
				maxKept = c.kept
			}
			got, st, err := FromStream(context.Background(), writeTo(db))
			if err != nil {
				t.Fatal(err)
			}
			streams[st.Streams] = true
			fi, _ := os.Stat(path)
			db.Close()
			want, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stream: %d members, %d removed; bbolt: %d, %d", len(got.Members), len(got.Removed), len(want.Members), len(want.Removed))
			}
			t.Logf("%s: %d stream(s), %d bytes read of a %d-byte file", c.name, st.Streams, st.Bytes, fi.Size())
			if st.Bytes > int64(st.Streams)*fi.Size() {
				t.Errorf("read %d bytes on %d streams of a %d-byte file", st.Bytes, st.Streams, fi.Size())
			}
		})
	}
	if !streams[1] || len(streams) < 2 {
		t.Errorf("streams needed: %v; the cases should need one stream and more", streams)
	}
}

// TestFromStreamRefusesGarbage: a stream that is not a bbolt file, or
// ends early, is an error, never an empty membership.
func TestFromStreamRefusesGarbage(t *testing.T) {
	path, db := backendFile(t, 60, 40, 0, false)
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"junk": []byte("etcd etcd etcd"), "cut": data[:3*4096]} {
		open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		if got, _, err := FromStream(context.Background(), open); err == nil {
			t.Errorf("%s: no error, %d members", name, len(got.Members))
		}
	}
}
