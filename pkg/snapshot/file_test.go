package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

func TestKVKey(t *testing.T) {
	kv := mvccpb.KeyValue{Key: []byte("/registry/pods/x"), CreateRevision: 5, ModRevision: 9, Version: 2, Value: bytes.Repeat([]byte("v"), 300), Lease: 7}
	b, err := kv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kvKey(b)
	if err != nil || string(k) != "/registry/pods/x" {
		t.Fatalf("kvKey = %q, %v", k, err)
	}
	if _, err := kvKey(b[:3]); err == nil {
		t.Fatal("truncated record accepted")
	}
}

// TestKeysOutOfOrder: the key bucket's order is checked while its keys are
// scanned (no pass of its own): two revision keys swapped on their leaf
// page, as a corrupt page would hold them, are refused with the check, and
// read as they are without it.
func TestKeysOutOfOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	revKey := func(main int64) []byte {
		k := make([]byte, 17)
		binary.BigEndian.PutUint64(k, uint64(main))
		k[8] = '_'
		return k
	}
	first, second := revKey(2), revKey(3)
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("consistent_index"), make([]byte, 8)); err != nil {
			return err
		}
		keys, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for i, k := range [][]byte{first, second} {
			v, _ := (&mvccpb.KeyValue{Key: []byte{'a' + byte(i)}, CreateRevision: int64(i + 2), ModRevision: int64(i + 2), Version: 1, Value: []byte("v")}).Marshal()
			if err := keys.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := ReadInfo(path, true); err != nil {
		t.Fatalf("the file as bbolt wrote it: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(b, first), bytes.Index(b, second)
	if i < 0 || j < 0 || bytes.Count(b, first) != 1 || bytes.Count(b, second) != 1 {
		t.Fatal("each key should be in the file once")
	}
	copy(b[i:], second)
	copy(b[j:], first)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInfo(path, true); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("keys swapped: want the order check's ErrCorrupt, got %v", err)
	}
	if _, err := ReadInfo(path, false); err != nil {
		t.Fatalf("keys swapped, without the check: %v", err)
	}
}
