package membercheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// A live member holds its backend's file lock (bbolt's flock), so bbolt
// cannot open the file beside it. ReadPages reads the membership from
// the file's pages instead, as bbolt lays them out: the two meta pages
// (the valid one with the higher transaction ID), the root bucket's tree
// down to the "members" and "members_removed" buckets, and those buckets'
// trees — a handful of pages whatever the size of the database.
//
// bbolt writes copy-on-write: pages reachable from a committed meta page
// are not rewritten before the next-but-one transaction. The read is
// therefore good when the meta's transaction ID has moved by at most one
// when it ends; otherwise it is retried, and ErrMoving says the file kept
// changing.

// ErrMoving is returned when the backend changed under every attempt.
var ErrMoving = errors.New("the backend changed under every read")

const (
	metaMagic    = 0xED0CDAED
	pageHeader   = 16
	elemSize     = 16
	branchFlag   = 0x01
	leafFlag     = 0x02
	metaFlag     = 0x04
	bucketLeaf   = 0x01
	bucketHeader = 16
	maxPageSize  = 1 << 20
)

type meta struct {
	pageSize   uint32
	root, txid uint64
	highWater  uint64
}

// pageFile reads bbolt pages from a ReaderAt, counting the bytes read.
type pageFile struct {
	r        io.ReaderAt
	pageSize uint32
	high     uint64
	Read     int64
}

func (f *pageFile) readAt(n int, off int64) ([]byte, error) {
	b := make([]byte, n)
	m, err := f.r.ReadAt(b, off)
	f.Read += int64(m)
	if m == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// metaAt parses the meta page at off; ok is false when it is not valid.
func (f *pageFile) metaAt(off int64) (meta, bool) {
	b, err := f.readAt(pageHeader+64, off)
	if err != nil || binary.LittleEndian.Uint16(b[8:])&metaFlag == 0 {
		return meta{}, false
	}
	m := b[pageHeader:]
	h := fnv.New64a()
	h.Write(m[:56])
	if binary.LittleEndian.Uint32(m[0:]) != metaMagic || binary.LittleEndian.Uint32(m[4:]) != 2 || h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
		return meta{}, false
	}
	return meta{pageSize: binary.LittleEndian.Uint32(m[8:]), root: binary.LittleEndian.Uint64(m[16:]),
		highWater: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:])}, true
}

// meta returns the newest valid meta page.
func (f *pageFile) meta() (meta, error) {
	m0, ok0 := f.metaAt(0)
	size := m0.pageSize
	if !ok0 {
		size = 4096 // the first meta is torn: try the second where a 4 KiB page puts it
	}
	m1, ok1 := f.metaAt(int64(size))
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		m0 = m1
	case !ok0:
		return meta{}, fmt.Errorf("no valid bbolt meta page")
	}
	if m0.pageSize < 512 || m0.pageSize > maxPageSize {
		return meta{}, fmt.Errorf("bbolt meta page: page size %d", m0.pageSize)
	}
	return m0, nil
}

// page reads page id with its overflow.
func (f *pageFile) page(id uint64) (node, error) {
	if id < 2 || id >= f.high {
		return nil, fmt.Errorf("page %d is outside the file's %d pages", id, f.high)
	}
	off := int64(id) * int64(f.pageSize)
	h, err := f.readAt(pageHeader, off)
	if err != nil {
		return nil, err
	}
	over := uint64(binary.LittleEndian.Uint32(h[12:]))
	if binary.LittleEndian.Uint64(h) != id || id+over >= f.high {
		return nil, fmt.Errorf("page %d: not a page of this transaction", id)
	}
	return f.readAt(int((over+1)*uint64(f.pageSize)), off)
}

// node is a branch or leaf page (or a bucket's inline page).
type node []byte

func (n node) flags() uint16 { return binary.LittleEndian.Uint16(n[8:]) }
func (n node) count() int    { return int(binary.LittleEndian.Uint16(n[10:])) }

func (n node) slice(at, pos, size uint32) ([]byte, error) {
	lo := uint64(at) + uint64(pos)
	if lo+uint64(size) > uint64(len(n)) {
		return nil, fmt.Errorf("element beyond its page")
	}
	return n[lo : lo+uint64(size)], nil
}

// elem returns the i-th element: for a leaf its flags, key and value; for
// a branch its key and child page.
func (n node) elem(i int) (flags uint32, key, val []byte, child uint64, err error) {
	e, key, err := n.key(i)
	if err != nil {
		return 0, nil, nil, 0, err
	}
	if n.flags()&branchFlag != 0 {
		return 0, key, nil, binary.LittleEndian.Uint64(e[8:]), nil
	}
	at := uint32(pageHeader + i*elemSize)
	pos, ksize, vsize := binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
	val, err = n.slice(at, pos+ksize, vsize)
	return binary.LittleEndian.Uint32(e[0:]), key, val, 0, err
}

// key returns the i-th element's header and key; its value may run on
// into the overflow pages, which the page may not hold.
func (n node) key(i int) (e, key []byte, err error) {
	at := uint32(pageHeader + i*elemSize)
	if int(at)+elemSize > len(n) {
		return nil, nil, fmt.Errorf("element %d beyond its page", i)
	}
	e = n[at : at+elemSize]
	pos, ksize := binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:])
	if n.flags()&branchFlag != 0 {
		pos, ksize = binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint32(e[4:])
	}
	key, err = n.slice(at, pos, ksize)
	return e, key, err
}

// walk calls fn for every key/value of the tree rooted at root (a page
// id, or the inline page when root is 0), in key order.
func (f *pageFile) walk(root uint64, inline []byte, depth int, fn func(flags uint32, k, v []byte) error) error {
	if depth > 32 {
		return fmt.Errorf("tree deeper than 32 levels")
	}
	n := node(inline)
	if root != 0 {
		p, err := f.page(root)
		if err != nil {
			return err
		}
		n = p
	}
	if len(n) < pageHeader {
		return fmt.Errorf("page %d: short", root)
	}
	switch {
	case n.flags()&branchFlag != 0:
		for i := 0; i < n.count(); i++ {
			_, _, _, child, err := n.elem(i)
			if err != nil {
				return err
			}
			if err := f.walk(child, nil, depth+1, fn); err != nil {
				return err
			}
		}
	case n.flags()&leafFlag != 0:
		for i := 0; i < n.count(); i++ {
			fl, k, v, _, err := n.elem(i)
			if err != nil {
				return err
			}
			if err := fn(fl, k, v); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("page %d: flags %#x, not a branch or leaf", root, n.flags())
	}
	return nil
}

// ReadPages reads the membership from a backend file that may be in use
// (a running member's member/snap/db), without its lock, from the pages
// it needs. It returns the backend and the bytes read.
func ReadPages(r io.ReaderAt) (*Backend, int64, error) {
	f := &pageFile{r: r}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		b, moved, err := f.readOnce()
		if !moved {
			return b, f.Read, err
		}
		last = err
	}
	return nil, f.Read, fmt.Errorf("%w (%v)", ErrMoving, last)
}

// readOnce reads the membership once; moved says the file changed under
// the read (a transaction committed past the next one), which a retry
// may get past. An error without a move is the file's.
func (f *pageFile) readOnce() (b *Backend, moved bool, err error) {
	f.pageSize = 4096
	m, err := f.meta()
	if err != nil {
		return nil, false, err
	}
	f.pageSize, f.high = m.pageSize, m.highWater
	b = &Backend{Members: map[uint64]Member{}, Removed: map[uint64]bool{}}
	readErr := f.members(m.root, b)
	after, err := f.meta()
	if err != nil {
		return nil, false, err
	}
	if after.txid > m.txid+1 {
		return nil, true, fmt.Errorf("transaction %d became %d during the read", m.txid, after.txid)
	}
	if readErr != nil {
		return nil, false, readErr
	}
	return b, false, nil
}

func (f *pageFile) members(root uint64, b *Backend) error {
	// The root bucket holds etcd's dozen buckets: one leaf page.
	type sub struct {
		root   uint64
		inline []byte
	}
	subs := map[string]sub{}
	err := f.walk(root, nil, 0, func(fl uint32, k, v []byte) error {
		name := string(k)
		if name != "members" && name != "members_removed" {
			return nil
		}
		if fl&bucketLeaf == 0 || len(v) < bucketHeader {
			return fmt.Errorf("%s is not a bucket", name)
		}
		s := sub{root: binary.LittleEndian.Uint64(v)}
		if s.root == 0 {
			s.inline = v[bucketHeader:]
		}
		subs[name] = s
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"members", "members_removed"} {
		s, found := subs[name]
		if !found {
			continue
		}
		err = f.walk(s.root, s.inline, 0, func(fl uint32, k, v []byte) error {
			if fl&bucketLeaf != 0 {
				return nil
			}
			if name == "members" {
				return b.addMember(k, v)
			}
			return b.addRemoved(k)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
