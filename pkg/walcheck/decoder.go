package walcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// decoder reads a WAL's records as etcd's wal.Decoder does (its
// server/storage/wal/decoder.go: frames, padding, the CRC chain, torn
// tails, preallocated space), with one difference: a record's bytes go
// into one buffer reused from record to record, and its data is a slice
// of that buffer, valid until the next call. etcd's decoder allocates
// each record twice (the frame, then the data Unmarshal copies out); on a
// WAL of large values that allocation, and the garbage collection it
// drives, was most of a plan's time.
type decoder struct {
	brs          []*segment
	lastValidOff int64 // the offset after the last valid record
	crc          uint32
	buf          []byte
	// skipTo: entry records of this index or below are passed over
	// without reading their data (seeking past them), their CRC taken as
	// written. Records of other types are always read.
	skipTo uint64
}

// segment is one WAL file's buffered reader, and the file to seek in.
type segment struct {
	*fileutil.FileBufReader
	r fileutil.FileReader
}

// skip passes over the next n bytes: from the buffer, then by seeking
// where the file can.
func (s *segment) skip(n int64) error {
	if b := int64(s.Buffered()); n <= b {
		_, err := s.Discard(int(n))
		return err
	}
	seeker, ok := s.r.(io.Seeker)
	if !ok {
		_, err := s.Discard(int(n))
		return err
	}
	b := s.Buffered()
	if _, err := s.Discard(b); err != nil {
		return err
	}
	if _, err := seeker.Seek(n-int64(b), io.SeekCurrent); err != nil {
		return err
	}
	s.Reset(s.r)
	return nil
}

// record is one decoded record; data aliases the decoder's buffer.
type record struct {
	typ  int64
	crc  uint32
	data []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	frameSizeBytes = 8
	minSectorSize  = 512
)

// openDecoder opens the WAL's segments from the one holding index on
// (segmentsFrom) and a decoder over them; closeAll closes the files.
func openDecoder(walDir string, index uint64) (dec *decoder, closeAll func(), err error) {
	files, err := segmentsFrom(walDir, index)
	if err != nil {
		return nil, nil, err
	}
	var readers []fileutil.FileReader
	for _, f := range files {
		readers = append(readers, fileutil.NewFileReader(f))
	}
	return newDecoder(readers...), func() {
		for _, f := range files {
			f.Close()
		}
	}, nil
}

func newDecoder(r ...fileutil.FileReader) *decoder {
	d := &decoder{}
	for _, f := range r {
		d.brs = append(d.brs, &segment{fileutil.NewFileBufReader(f), f})
	}
	return d
}

// updateCRC starts the chain again from a CRC record's value.
func (d *decoder) updateCRC(prev uint32) { d.crc = prev }

// next decodes the next record; io.EOF at the end, io.ErrUnexpectedEOF
// (wrapped) at a torn tail, as etcd's decoder says them.
func (d *decoder) next(rec *record) error {
	for {
		if len(d.brs) == 0 {
			return io.EOF
		}
		br := d.brs[0]
		var lenField [8]byte
		_, err := io.ReadFull(br, lenField[:])
		l := int64(binary.LittleEndian.Uint64(lenField[:]))
		if errors.Is(err, io.EOF) || (err == nil && l == 0) {
			// The end of a file, or its preallocated space.
			d.brs = d.brs[1:]
			d.lastValidOff = 0
			continue
		}
		if err != nil {
			return err
		}
		recBytes, padBytes := frameSize(l)
		if limit := br.FileInfo().Size() - d.lastValidOff - padBytes; recBytes > limit {
			return fmt.Errorf("%w: [wal] max entry size limit exceeded when reading %q, recBytes: %d, entryLimit(%d)", io.ErrUnexpectedEOF, br.FileInfo().Name(), recBytes, limit)
		}
		if skipped, err := d.skipEntry(br, recBytes, padBytes); err != nil || skipped {
			if err != nil {
				return err
			}
			continue
		}
		n := int(recBytes + padBytes)
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		data := d.buf[:n]
		if _, err := io.ReadFull(br, data); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := parseRecord(data[:recBytes], rec); err != nil {
			if d.torn(data) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if rec.typ != crcType {
			d.crc = crc32.Update(d.crc, castagnoli, rec.data)
			if rec.crc != d.crc {
				err := fmt.Errorf("%w: expected: %x computed: %x", walpb.ErrCRCMismatch, rec.crc, d.crc)
				if d.torn(data) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("%w: in file '%s' at position: %d", err, br.FileInfo().Name(), d.lastValidOff)
			}
		}
		d.lastValidOff += frameSizeBytes + recBytes + padBytes
		return nil
	}
}

// skipEntry passes over the record framed next when it is an entry of
// index d.skipTo or below, read from the first bytes of its encoding
// (walpb.Record's type and crc, then the raft entry's type, term and
// index, in field order as etcd writes them): the record's data is
// neither read nor checked, and the CRC chain goes on from the crc the
// record carries. It never skips a record it cannot read that way.
func (d *decoder) skipEntry(br *segment, recBytes, padBytes int64) (bool, error) {
	const head = 48
	if d.skipTo == 0 || recBytes < 2*head {
		return false, nil
	}
	b, err := br.Peek(head)
	if err != nil {
		return false, nil
	}
	var typ, crc, index uint64
	var data []byte
	for rest := b; len(rest) > 0 && data == nil; {
		num, wt, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return false, nil
		}
		rest = rest[n:]
		switch {
		case (num == 1 || num == 2) && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(rest)
			if n < 0 {
				return false, nil
			}
			rest = rest[n:]
			if num == 1 {
				typ = v
			} else {
				crc = v
			}
		case num == 3 && wt == protowire.BytesType:
			_, n := protowire.ConsumeVarint(rest) // the data's length
			if n < 0 {
				return false, nil
			}
			data = rest[n:]
		default:
			return false, nil
		}
	}
	if typ != entryType {
		return false, nil
	}
	for rest := data; len(rest) > 0 && index == 0; {
		num, wt, n := protowire.ConsumeTag(rest)
		if n < 0 || num > 3 || wt != protowire.VarintType {
			return false, nil
		}
		rest = rest[n:]
		v, n := protowire.ConsumeVarint(rest)
		if n < 0 {
			return false, nil
		}
		rest = rest[n:]
		if num == 3 {
			index = v
		}
	}
	if index == 0 || index > d.skipTo {
		return false, nil
	}
	if err := br.skip(recBytes + padBytes); err != nil {
		return false, err
	}
	d.crc = uint32(crc)
	d.lastValidOff += frameSizeBytes + recBytes + padBytes
	return true, nil
}

// frameSize splits a frame's length field: the record's size in the low
// 56 bits, its padding in the top byte's low 3 bits when the MSB is set.
func frameSize(l int64) (recBytes, padBytes int64) {
	recBytes = int64(uint64(l) & ^(uint64(0xff) << 56))
	if l < 0 {
		padBytes = int64((uint64(l) >> 56) & 0x7)
	}
	return recBytes, padBytes
}

// parseRecord reads walpb.Record's fields (type 1, crc 2, data 3) without
// copying the data; anything else goes to walpb's own decoder, whose
// error (or copied result) stands.
func parseRecord(b []byte, rec *record) error {
	*rec = record{}
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return slowRecord(b, rec)
		}
		rest = rest[n:]
		switch {
		case (num == 1 || num == 2) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(rest)
			if n < 0 {
				return slowRecord(b, rec)
			}
			rest = rest[n:]
			if num == 1 {
				rec.typ = int64(v)
			} else {
				rec.crc = uint32(v)
			}
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return slowRecord(b, rec)
			}
			rest, rec.data = rest[n:], v
		default:
			return slowRecord(b, rec)
		}
	}
	return nil
}

func slowRecord(b []byte, rec *record) error {
	var r walpb.Record
	if err := r.Unmarshal(b); err != nil {
		return err
	}
	*rec = record{typ: r.Type, crc: r.Crc, data: r.Data}
	return nil
}

// torn says whether a record is a torn write: on the last file, some
// sector of it is all zeros (etcd's isTornEntry).
func (d *decoder) torn(data []byte) bool {
	if len(d.brs) != 1 {
		return false
	}
	fileOff := d.lastValidOff + frameSizeBytes
	for cur := 0; cur < len(data); {
		n := min(int(minSectorSize-(fileOff%minSectorSize)), len(data)-cur)
		zero := true
		for _, v := range data[cur : cur+n] {
			if v != 0 {
				zero = false
				break
			}
		}
		if zero {
			return true
		}
		fileOff += int64(n)
		cur += n
	}
	return false
}

// validSnapshotEntries is etcd's wal.ValidSnapshotEntries read with this
// package's decoder: the snapshot records of the WAL, but those newer than
// its last committed HardState; from the segment holding index on (0: the
// whole WAL, as etcd reads it).
func validSnapshotEntries(walDir string, index uint64) ([]walpb.Snapshot, error) {
	dec, closeAll, err := openDecoder(walDir, index)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	dec.skipTo = math.MaxUint64 // no entry is needed here
	var snaps []walpb.Snapshot
	var commit uint64
	rec := &record{}
	for err = dec.next(rec); err == nil; err = dec.next(rec) {
		switch rec.typ {
		case wal.SnapshotType:
			var s walpb.Snapshot
			if err := s.Unmarshal(rec.data); err != nil {
				return nil, err
			}
			snaps = append(snaps, s)
		case wal.StateType:
			commit = wal.MustUnmarshalState(rec.data).Commit
		case wal.CrcType:
			if dec.crc != 0 && rec.crc != dec.crc {
				return nil, wal.ErrCRCMismatch
			}
			dec.updateCRC(rec.crc)
		}
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	var out []walpb.Snapshot
	for _, s := range snaps {
		if s.Index <= commit {
			out = append(out, s)
		}
	}
	return out, nil
}
