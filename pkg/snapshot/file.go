// Package snapshot saves, verifies, restores and prunes etcd snapshots.
//
// A snapshot file is what etcd's Maintenance.Snapshot streams: a bbolt
// database followed by a 32-byte SHA-256 of it (the trailer). etcdpilot
// writes a JSON sidecar beside each file (FILE.json) with what it found:
// cluster, member, version, revision, key count, HashKV, size and SHA-256.
package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Info is what a snapshot file says about itself.
type Info struct {
	Size int64 `json:"size"`
	// SHA256 is the SHA-256 of the database (the file without its trailer);
	// etcd writes the same value as the trailer.
	SHA256          string `json:"sha256"`
	Revision        int64  `json:"revision"`
	CompactRevision int64  `json:"compactRevision"`
	// KeyCount is the number of live keys at Revision.
	KeyCount int64 `json:"keyCount"`
	// HashKV is etcd's HashKV of the key space at Revision, comparable with
	// a member's Maintenance.HashKV at that revision.
	HashKV uint32 `json:"hashKV"`
	// ClusterVersion and StorageVersion are read from the database ("3.5.0";
	// the storage version exists from 3.6 on).
	ClusterVersion string `json:"clusterVersion,omitempty"`
	StorageVersion string `json:"storageVersion,omitempty"`
	// Members and Removed are the member IDs (hex) of the members and
	// members_removed buckets: who the cluster was when it was saved.
	Members []string `json:"members,omitempty"`
	Removed []string `json:"removedMembers,omitempty"`

	// noRecords: the key bucket is empty (Revision is still 1, as etcd
	// reports it, but etcdutl bumps from 0).
	noRecords bool
}

// BumpedRevision is the revision a restore with this bump starts at:
// etcdutl adds the bump to the newest revision in the key bucket.
func (i *Info) BumpedRevision(bump int64) int64 {
	if bump > 0 && i.noRecords {
		return bump
	}
	return i.Revision + bump
}

// ErrCorrupt wraps every reason a file is not a usable snapshot.
var ErrCorrupt = errors.New("not a valid etcd snapshot")

const trailerLen = sha256.Size

// CheckTrailer hashes the database part of the file and compares it with
// the trailer etcd appended. It returns the SHA-256.
func CheckTrailer(path string) (string, int64, error) {
	return CopyChecked(path, io.Discard)
}

// CopyChecked is CheckTrailer that also copies the database part (the
// file without its trailer) to w on the way: one read of the file.
func CopyChecked(path string, w io.Writer) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	size := st.Size()
	// A bbolt file is whole pages (4 KiB at least, two meta pages); with the
	// trailer the size is pages + 32.
	if size < 2*4096+trailerLen || (size-trailerLen)%512 != 0 {
		return "", size, fmt.Errorf("%w: %s is %d bytes, not a whole bbolt database plus its 32-byte SHA-256 trailer (truncated?)", ErrCorrupt, path, size)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(h, w), io.LimitReader(f, size-trailerLen), make([]byte, 1<<20)); err != nil {
		return "", size, err
	}
	trailer := make([]byte, trailerLen)
	if _, err := io.ReadFull(f, trailer); err != nil {
		return "", size, err
	}
	sum := h.Sum(nil)
	if !bytes.Equal(sum, trailer) {
		return "", size, fmt.Errorf("%w: %s: SHA-256 trailer mismatch (file is corrupted or truncated): content hashes to %s, trailer says %s", ErrCorrupt, path, hex.EncodeToString(sum), hex.EncodeToString(trailer))
	}
	return hex.EncodeToString(sum), size, nil
}

// ReadInfo opens the file read-only with bbolt and reads revision, key
// count, HashKV and versions. With check it walks every bucket and reads
// every page, requiring keys in strictly ascending order (the key bucket,
// nearly all of an etcd file, while its keys are scanned, not in a pass of
// its own).
func ReadInfo(path string, check bool) (info *Info, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	info = &Info{Size: st.Size()}
	err = view(path, func(db *bolt.DB, tx *bolt.Tx) error {
		tr := &trimmer{addr: db.Info().Data, size: st.Size()}
		if check {
			// The key bucket, nearly all of the file, is walked once, by
			// scanKeys, which checks its order on the way.
			if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				if string(name) == "key" {
					return nil
				}
				return walk(b, name, tr)
			}); err != nil {
				return fmt.Errorf("%w: %s: bbolt consistency check: %v", ErrCorrupt, path, err)
			}
		}
		meta, keys, err := etcdBuckets(tx, path)
		if err != nil {
			return err
		}
		info.CompactRevision = compactRev(meta)
		if v := meta.Get([]byte("storageVersion")); v != nil {
			info.StorageVersion = string(v)
		}
		if cb := tx.Bucket([]byte("cluster")); cb != nil {
			info.ClusterVersion = string(cb.Get([]byte("clusterVersion")))
		}
		info.Members, info.Removed = bucketKeys(tx, "members"), bucketKeys(tx, "members_removed")
		return scanKeys(keys, info, tr, check)
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// fileHead reads a snapshot's revision (its last key's, as ReadInfo
// finds it) and compact revision, without reading the rest.
func fileHead(path string) (rev, compact int64, err error) {
	err = view(path, func(_ *bolt.DB, tx *bolt.Tx) error {
		meta, keys, err := etcdBuckets(tx, path)
		if err != nil {
			return err
		}
		compact = compactRev(meta)
		var last int64
		if k, _ := keys.Cursor().Last(); k != nil {
			r, _, err := parseRev(k)
			if err != nil {
				return err
			}
			last = r.main
		}
		rev = headRevision(last, compact)
		return nil
	})
	return rev, compact, err
}

// headRevision is a file's revision from its last key's and its compact
// revision; an empty key space is at revision 1, as etcd starts it.
func headRevision(last, compact int64) int64 { return max(last, compact, 1) }

// view opens the file read-only with bbolt and runs fn in a read
// transaction. bbolt's own Tx.Check is not used: on etcd's databases (no
// synced freelist) it rebuilds the freelist in a goroutine that panics on
// a corrupt page, which would kill the process instead of reporting the
// file. Here a corrupt page panics in this goroutine, where bbolt's View
// recovers it as an error, and memory faults in the mapping are turned
// into panics too. Every error is ErrCorrupt.
func view(path string, fn func(*bolt.DB, *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: bbolt: %v", ErrCorrupt, path, p)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("%w: %s: bbolt cannot open it: %v", ErrCorrupt, path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error { return fn(db, tx) })
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return err
}

// etcdBuckets are etcd's meta and key buckets.
func etcdBuckets(tx *bolt.Tx, path string) (meta, keys *bolt.Bucket, err error) {
	meta, keys = tx.Bucket([]byte("meta")), tx.Bucket([]byte("key"))
	if meta == nil || keys == nil {
		return nil, nil, fmt.Errorf("%w: %s is a bbolt file without etcd's meta and key buckets", ErrCorrupt, path)
	}
	return meta, keys, nil
}

// compactRev is the finished compaction's revision etcd keeps in meta.
func compactRev(meta *bolt.Bucket) int64 {
	if v := meta.Get([]byte("finishedCompactRev")); len(v) >= 8 {
		return int64(binary.BigEndian.Uint64(v[:8]))
	}
	return 0
}

// bucketKeys lists a bucket's keys, or nil when it is not there.
func bucketKeys(tx *bolt.Tx, name string) []string {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil
	}
	var out []string
	b.ForEach(func(k, _ []byte) error {
		out = append(out, strings.ToLower(string(k)))
		return nil
	})
	return out
}

// walk reads every key and value of a bucket and its sub-buckets in page
// order and requires the keys to ascend.
func walk(b *bolt.Bucket, name []byte, tr *trimmer) error {
	if b == nil {
		return fmt.Errorf("%q is not a bucket", name)
	}
	var prev []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("bucket %q: keys out of order at %x", name, k)
		}
		prev = k
		tr.read(k, v)
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				if err := walk(sub, k, tr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type rev struct{ main, sub int64 }

func parseRev(k []byte) (rev, bool, error) {
	if len(k) != 17 && len(k) != 18 {
		return rev{}, false, fmt.Errorf("%w: key bucket entry of %d bytes", ErrCorrupt, len(k))
	}
	r := rev{int64(binary.BigEndian.Uint64(k[0:8])), int64(binary.BigEndian.Uint64(k[9:17]))}
	return r, len(k) == 18 && k[17] == 't', nil
}

// scanKeys reads the key bucket once: the head revision, the live keys,
// and etcd's HashKV at the head (mvcc/hash.go: CRC-32C of the bucket name
// and every key/value up to the revision; at or below the compact revision
// only each key's latest revision is hashed, and a tombstone at exactly the
// compact revision is skipped).
func scanKeys(b *bolt.Bucket, info *Info, tr *trimmer, check bool) error {
	type latest struct {
		r         rev
		tombstone bool
	}
	head := map[string]latest{}
	var last rev
	c := info.CompactRevision
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write([]byte("key"))
	// Without a compaction every revision is hashed, in one pass.
	hashNow := c == 0
	var prev []byte
	err := b.ForEach(func(k, v []byte) error {
		tr.read(k, v)
		if check && prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("%w: bbolt consistency check: bucket \"key\": keys out of order at %x", ErrCorrupt, k)
		}
		prev = k
		r, tomb, err := parseRev(k)
		if err != nil {
			return err
		}
		var key []byte
		// An empty record is etcdutl's --bump-revision marker, which etcd
		// indexes (and hashes) under the empty key; it is no live key.
		if len(v) > 0 {
			if key, err = kvKey(v); err != nil {
				return fmt.Errorf("%w: revision %d: %v", ErrCorrupt, r.main, err)
			}
		}
		head[string(key)] = latest{r, tomb}
		last = r
		if hashNow {
			h.Write(k)
			h.Write(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	info.Revision = headRevision(last.main, c)
	info.noRecords = last.main == 0
	keep := map[rev]bool{}
	for k, l := range head {
		if !l.tombstone {
			keep[l.r] = true
			if k != "" {
				info.KeyCount++
			}
		}
	}
	if !hashNow {
		err = b.ForEach(func(k, v []byte) error {
			tr.read(k, v)
			r, tomb, _ := parseRev(k)
			if r.main <= c && len(keep) > 0 && !keep[r] {
				return nil
			}
			if r.main == c && tomb {
				return nil
			}
			h.Write(k)
			h.Write(v)
			return nil
		})
	}
	info.HashKV = h.Sum32()
	return err
}

// kvKey returns the key field (1) of a marshalled mvccpb.KeyValue without
// decoding (and copying) the value.
func kvKey(b []byte) ([]byte, error) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("malformed key-value record")
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			_, m := binary.Uvarint(b)
			if m <= 0 {
				return nil, errors.New("malformed key-value record")
			}
			b = b[m:]
		case 2: // length-delimited
			l, m := binary.Uvarint(b)
			if m <= 0 || uint64(len(b)-m) < l {
				return nil, errors.New("malformed key-value record")
			}
			if tag>>3 == 1 {
				return b[m : m+int(l)], nil
			}
			b = b[m+int(l):]
		default:
			return nil, fmt.Errorf("unexpected wire type %d in a key-value record", tag&7)
		}
	}
	return nil, errors.New("key-value record without a key")
}

// trimmer drops the pages bbolt's read-only mapping of the file has
// faulted in, after every 16 MiB of keys and values read: reading a
// 4 GiB snapshot then keeps a few dozen MiB resident instead of the whole
// file. The pages stay in the page cache, and one read again faults back
// in with the same bytes: on a read-only shared file mapping nothing is
// lost.
type trimmer struct {
	addr uintptr
	size int64
	n    int
}

func (t *trimmer) read(k, v []byte) {
	if t.n += len(k) + len(v); t.n < 16<<20 || t.addr == 0 || t.size <= 0 {
		return
	}
	t.n = 0
	unix.Syscall(unix.SYS_MADVISE, t.addr, uintptr(t.size), unix.MADV_DONTNEED)
}
