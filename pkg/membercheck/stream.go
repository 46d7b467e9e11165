package membercheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A member's Maintenance.Snapshot is bbolt's Tx.WriteTo: the two meta
// pages, then every page of the file in order. The pages the membership
// lookup needs are read from that stream as it passes, and the stream is
// closed as soon as the lookup has them: no temporary file, and the
// member sends only the file up to the last page needed.
//
// The root bucket's page is read when the stream reaches it, but the
// pages of the "members" and "members_removed" buckets may come before
// it (bbolt reuses freed pages wherever they are). So while the stream
// passes pages, it keeps every branch and leaf page that is not the key
// bucket's (whose keys are revisions: 8 bytes, '_', 8 bytes), up to half
// of maxKept bytes: etcd's other buckets are small. A lookup that still
// finds a page passed tries again on a new stream that also keeps every
// page the earlier attempt read.

// maxKept bounds the bytes kept from a stream: the lookup's pages are a
// handful; a tree that needs more is read the whole way instead.
var maxKept int64 = 16 << 20

// errPassed is a read of bytes the stream has passed without keeping.
type errPassed struct{ off int64 }

func (e *errPassed) Error() string {
	return fmt.Sprintf("the stream has passed offset %d", e.off)
}

// streamPages is an io.ReaderAt over a backend streamed front to back.
// A read ahead of the stream reads up to it; a read behind it is served
// from the bytes it kept.
type streamPages struct {
	r        io.Reader
	pos      int64
	pageSize int64 // 0 until the meta page is read
	keep     map[int64]bool
	kept     map[int64][]byte // by offset
	keptSize int64
	asked    map[int64]bool // page offsets the lookup read
	buf      []byte         // the page being passed
}

func newStreamPages(r io.Reader, keep map[int64]bool) *streamPages {
	return &streamPages{r: r, keep: keep, kept: map[int64][]byte{}, asked: map[int64]bool{}}
}

func (s *streamPages) ReadAt(p []byte, off int64) (int, error) {
	if s.pageSize > 0 {
		s.asked[off-off%s.pageSize] = true
	}
	end := off + int64(len(p))
	for o, b := range s.kept {
		if o <= off && end <= o+int64(len(b)) {
			return copy(p, b[off-o:]), nil
		}
	}
	if off < s.pos {
		// Only the newest bytes kept, ending where the stream is, can grow.
		for o, b := range s.kept {
			if o <= off && o+int64(len(b)) == s.pos {
				if err := s.extend(o, end); err != nil {
					return 0, err
				}
				return copy(p, s.kept[o][off-o:]), nil
			}
		}
		return 0, &errPassed{off: off}
	}
	if err := s.skipTo(off); err != nil {
		return 0, err
	}
	if err := s.extend(off, end); err != nil {
		return 0, err
	}
	return copy(p, s.kept[off]), nil
}

// extend reads the stream into the bytes kept at o until they end at end.
func (s *streamPages) extend(o, end int64) error {
	n := end - s.pos
	if s.keptSize+n > maxKept {
		return fmt.Errorf("the lookup needs more than %d bytes of the stream", maxKept)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(s.r, buf); err != nil {
		return fmt.Errorf("read the stream at %d: %w", s.pos, err)
	}
	s.kept[o] = append(s.kept[o], buf...)
	s.pos, s.keptSize = end, s.keptSize+n
	return nil
}

// skipTo reads the stream up to off a page at a time, keeping the pages
// the lookup may come back to, each with its overflow pages.
func (s *streamPages) skipTo(off int64) error {
	for s.pos < off {
		ps := s.pageSize
		if ps == 0 || off-s.pos < ps {
			return s.discard(off)
		}
		if s.pos%ps != 0 { // inside a page read before: on to the next
			if err := s.discard(s.pos - s.pos%ps + ps); err != nil {
				return err
			}
			continue
		}
		at := s.pos
		if int64(len(s.buf)) != ps {
			s.buf = make([]byte, ps)
		}
		page := s.buf
		if _, err := io.ReadFull(s.r, page); err != nil {
			return fmt.Errorf("read the stream at %d: %w", at, err)
		}
		s.pos += ps
		size := (int64(binary.LittleEndian.Uint32(page[12:])) + 1) * ps // with its overflow
		room := maxKept
		if !s.keep[at] {
			room = maxKept / 2 // guesses leave the lookup's own reads room
		}
		if s.keepPage(at, page) && at+size <= off && s.keptSize+size <= room {
			s.kept[at], s.keptSize, s.buf = page, s.keptSize+ps, nil
			if err := s.extend(at, at+size); err != nil {
				return err
			}
			continue
		}
		// Past its overflow, but not past a page to keep: a freed page's
		// old header may count pages that hold live ones now.
		if err := s.discard(min(at+size, off, s.nextKeep(at))); err != nil {
			return err
		}
	}
	return nil
}

// nextKeep is the first page to keep after at (or the largest offset).
func (s *streamPages) nextKeep(at int64) int64 {
	next := int64(math.MaxInt64)
	for o := range s.keep {
		if o > at && o < next {
			next = o
		}
	}
	return next
}

// keepPage says whether the page at off is one to keep: one an earlier
// attempt read, or a branch or leaf page of any bucket but the key
// bucket.
func (s *streamPages) keepPage(off int64, page []byte) bool {
	if s.keep[off] {
		return true
	}
	n := node(page)
	if n.flags()&(branchFlag|leafFlag) == 0 || n.count() == 0 {
		return false
	}
	_, k, err := n.key(0)
	return err == nil && !((len(k) == 17 || len(k) == 18) && k[8] == '_')
}

func (s *streamPages) discard(off int64) error {
	if off <= s.pos {
		return nil
	}
	n, err := io.CopyN(io.Discard, s.r, off-s.pos)
	s.pos += n
	if err != nil {
		return fmt.Errorf("read the stream at %d: %w", s.pos, err)
	}
	return nil
}

// Streamed says how much of a backend's streams a lookup read.
type Streamed struct {
	Bytes   int64 // read from the streams, all attempts together
	Streams int   // streams opened
}

// Opener opens a member's backend stream (clientv3's Snapshot).
type Opener func(ctx context.Context) (io.ReadCloser, error)

// SnapshotOpener streams the backend of the member c is connected to.
func SnapshotOpener(c *clientv3.Client) Opener {
	return func(ctx context.Context) (io.ReadCloser, error) { return c.Snapshot(ctx) }
}

// FromStream reads the membership from a member's backend as its
// snapshot streams, closing each stream once the lookup has its pages.
// An error says the lookup could not be made from the streams (the
// caller reads the whole backend instead, FromMember).
func FromStream(ctx context.Context, open Opener) (*Backend, Streamed, error) {
	keep := map[int64]bool{}
	var st Streamed
	for st.Streams < 3 {
		st.Streams++
		b, s, err := streamOnce(ctx, open, keep)
		st.Bytes += s.pos
		var passed *errPassed
		if !errors.As(err, &passed) {
			return b, st, err
		}
		// Keep, on the next stream, every page this attempt read: the one
		// found passed among them.
		for o := range s.asked {
			keep[o] = true
		}
	}
	return nil, st, fmt.Errorf("the backend's pages were behind the stream on %d streams", st.Streams)
}

func streamOnce(ctx context.Context, open Opener, keep map[int64]bool) (*Backend, *streamPages, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := open(ctx)
	if err != nil {
		return nil, &streamPages{}, err
	}
	defer rc.Close()
	s := newStreamPages(rc, keep)
	f := &pageFile{r: s, pageSize: 4096}
	m, err := f.meta()
	if err != nil {
		return nil, s, err
	}
	s.pageSize = int64(m.pageSize)
	f.pageSize, f.high = m.pageSize, m.highWater
	b := &Backend{Members: map[uint64]Member{}, Removed: map[uint64]bool{}}
	if err := f.members(m.root, b); err != nil {
		return nil, s, err
	}
	return b, s, nil
}
