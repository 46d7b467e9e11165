// Package walcheck reads a member's write-ahead log the way etcd replays it
// on start — from its newest raft snapshot on — and counts the entries
// written as etcd v2 requests. etcd 3.5 still writes some (the cluster
// version, member attributes); etcd 3.7 removed the v2 request type from
// the WAL (etcd-io/etcd#21263) and panics on them ("unmarshal should never
// fail"). They leave a member's replay once it takes a raft snapshot.
package walcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
)

// Result is what a member replays on start.
type Result struct {
	// SnapshotIndex is the newest raft snapshot's index (0: none).
	SnapshotIndex uint64 `json:"snapshotIndex"`
	// Entries counts the entries after it; V2 those that are v2 requests,
	// the first and last of them at FirstV2 and LastV2.
	Entries int `json:"entries"`
	V2      int `json:"v2Entries"`
	// V2Custom counts the v2 writes of custom data: keys outside etcd's
	// own membership and version records ("/0/..."); etcd 3.6 refuses
	// to start on them.
	V2Custom  int    `json:"v2CustomEntries,omitempty"`
	FirstV2   uint64 `json:"firstV2Index,omitempty"`
	LastV2    uint64 `json:"lastV2Index,omitempty"`
	LastIndex uint64 `json:"lastIndex"`
	// Commit is the commit index of the WAL's newest HardState.
	Commit uint64 `json:"commitIndex"`
}

// Check reads the WAL of the data directory (walDir, when the member keeps
// it apart). It only reads, and works while the member runs: a record
// being written at the tail is left for the next look.
func Check(dataDir, walDir string) (*Result, error) {
	if walDir == "" {
		walDir = filepath.Join(dataDir, "member", "wal")
	}
	snapDir := filepath.Join(dataDir, "member", "snap")
	if _, err := os.Stat(walDir); err != nil {
		return nil, fmt.Errorf("%s is not an etcd data directory (no member/wal): %w", dataDir, err)
	}
	if err := checkSegments(walDir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(snapDir); err != nil {
		return nil, fmt.Errorf("%s has a WAL but no member/snap directory: not a complete etcd data directory (%v)", dataDir, err)
	}
	lg := zap.NewNop()
	load := func(index uint64) (*raftpb.Snapshot, error) {
		walSnaps, err := validSnapshotEntries(walDir, index)
		if err != nil {
			return nil, fmt.Errorf("read the WAL's snapshot records in %s: %w", walDir, err)
		}
		return snap.New(lg, snapDir).LoadNewestAvailable(walSnaps)
	}
	// The newest snapshot file's record is in the WAL from the segment
	// holding its index on, which is what etcd replays anyway: read only
	// that (the whole WAL grows with the database's writes). Where that
	// finds no valid snapshot, read the whole WAL, as etcd does.
	var s *raftpb.Snapshot
	var err error
	if index, ok := newestSnapIndex(snapDir); ok {
		s, err = load(index)
	}
	if s == nil {
		s, err = load(0)
	}
	start := walpb.Snapshot{}
	switch {
	case err == nil:
		start = walpb.Snapshot{Index: s.Metadata.Index, Term: s.Metadata.Term, ConfState: &s.Metadata.ConfState}
	case !errors.Is(err, snap.ErrNoSnapshot):
		return nil, fmt.Errorf("load the newest snapshot in %s: %w", snapDir, err)
	}
	return replay(walDir, start)
}

// replay decodes the WAL's records from the segment holding the start
// snapshot on, as etcd replays them, one record at a time: it keeps what
// it counts, never the entries, so memory stays flat whatever the WAL's
// size (etcd's WAL.ReadAll keeps every entry). An entry that overrides
// earlier ones (raft's figure 7: the same index again, from a newer
// leader) drops what was counted from that index on, as ReadAll does.
// A torn last record ends the read where etcd's ends it.
func replay(walDir string, start walpb.Snapshot) (*Result, error) {
	dec, closeAll, err := openDecoder(walDir, start.Index)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	dec.skipTo = start.Index // etcd replays only the entries after it
	r := &Result{SnapshotIndex: start.Index, LastIndex: start.Index}
	type v2 struct {
		index  uint64
		custom bool
	}
	var v2s []v2 // few: 3.5 writes a handful per member
	rec := &record{}
	for err = dec.next(rec); err == nil; err = dec.next(rec) {
		switch rec.typ {
		case crcType:
			if c := dec.crc; c != 0 && rec.crc != c {
				return nil, fmt.Errorf("read the WAL in %s: %w", walDir, wal.ErrCRCMismatch)
			}
			dec.updateCRC(rec.crc)
		case stateType:
			r.Commit = wal.MustUnmarshalState(rec.data).Commit
		case entryType:
			e, err := entryOf(rec.data)
			if err != nil {
				return nil, fmt.Errorf("read the WAL in %s: an entry does not decode: %w", walDir, err)
			}
			if e.Index <= start.Index {
				continue
			}
			if e.Index > r.LastIndex+1 {
				return nil, fmt.Errorf("read the WAL in %s: %w: entry %d follows %d", walDir, wal.ErrSliceOutOfRange, e.Index, r.LastIndex)
			}
			// Overridden entries leave the count.
			for len(v2s) > 0 && v2s[len(v2s)-1].index >= e.Index {
				v2s = v2s[:len(v2s)-1]
			}
			r.LastIndex = e.Index
			if e.Type != raftpb.EntryNormal || len(e.Data) == 0 || !IsV2(e.Data) {
				continue
			}
			p := V2Path(e.Data)
			v2s = append(v2s, v2{e.Index, p != "" && !strings.HasPrefix(p, "/0/") && p != "/0"})
		}
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read the WAL in %s: %w", walDir, err)
	}
	r.Entries = int(r.LastIndex - start.Index)
	r.V2 = len(v2s)
	for i, v := range v2s {
		if v.custom {
			r.V2Custom++
		}
		if i == 0 {
			r.FirstV2 = v.index
		}
		r.LastV2 = v.index
	}
	return r, nil
}

// Record types of etcd's WAL (server/storage/wal).
const (
	entryType = 2
	stateType = 3
)

// newestSnapIndex is the index of the newest raft snapshot file in snapDir
// (etcd names them term-index.snap, in hex).
func newestSnapIndex(snapDir string) (uint64, bool) {
	names, err := filepath.Glob(filepath.Join(snapDir, "*.snap"))
	if err != nil {
		return 0, false
	}
	var newest uint64
	found := false
	for _, n := range names {
		var term, index uint64
		if _, err := fmt.Sscanf(filepath.Base(n), "%016x-%016x.snap", &term, &index); err == nil && index >= newest {
			newest, found = index, true
		}
	}
	return newest, found
}

// segmentsFrom opens, in order, the WAL segments from the one holding
// index on (the last whose first index is not above it), as etcd does.
func segmentsFrom(walDir string, index uint64) ([]*os.File, error) {
	names, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	first := 0
	for i, n := range names {
		var seq, idx uint64
		if _, err := fmt.Sscanf(filepath.Base(n), "%016x-%016x.wal", &seq, &idx); err != nil {
			return nil, fmt.Errorf("%s: not a WAL segment name", n)
		}
		if idx <= index {
			first = i
		}
	}
	var files []*os.File
	for _, n := range names[first:] {
		f, err := os.Open(n)
		if err != nil {
			for _, o := range files {
				o.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// V2Path is the store path a v2 request writes ("/0/version", "/1/key"),
// or "" when the entry is not a v2 request.
func V2Path(data []byte) string {
	var req etcdserverpb.InternalRaftRequest
	if err := req.Unmarshal(data); err == nil {
		if req.V2 != nil {
			return req.V2.Path
		}
		return ""
	}
	var v2 etcdserverpb.Request
	if err := v2.Unmarshal(data); err != nil {
		return ""
	}
	return v2.Path
}

// checkSegments reads the first record of every WAL segment: each starts
// with a CRC record (etcd's wal encoder), so a file that does not is not
// a WAL segment (random bytes, another file), which etcd's reader would
// report as a missing snapshot.
func checkSegments(walDir string) error {
	names, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%s holds no WAL segment (*.wal)", walDir)
	}
	for _, n := range names {
		if err := firstRecord(n); err != nil {
			return fmt.Errorf("%s is not an etcd WAL segment: %v; etcd cannot replay it either: restore the member (etcdpilot member replace, or a snapshot)", n, err)
		}
	}
	return nil
}

// crcType is the type of the record that opens every WAL segment.
const crcType = 4

func firstRecord(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var lenField [8]byte
	if _, err := io.ReadFull(f, lenField[:]); err != nil {
		return fmt.Errorf("too short: %v", err)
	}
	l := binary.LittleEndian.Uint64(lenField[:])
	recLen := int64(l & ^(uint64(0xff) << 56))
	if recLen <= 0 || recLen > 1<<20 {
		return fmt.Errorf("its first record claims %d bytes", recLen)
	}
	// The length counts the record alone; its padding follows it.
	buf := make([]byte, recLen)
	if _, err := io.ReadFull(f, buf); err != nil {
		return fmt.Errorf("its first record is cut: %v", err)
	}
	var rec walpb.Record
	if err := rec.Unmarshal(buf); err != nil {
		return fmt.Errorf("its first record does not decode: %v", err)
	}
	if rec.Type != crcType {
		return fmt.Errorf("its first record is of type %d, not the CRC record a segment starts with", rec.Type)
	}
	return nil
}

// entryOf reads a raft entry's type, index and data from its encoding
// without copying the data (a WAL of large values would otherwise be
// copied once more); anything it does not expect goes to raftpb's own
// decoder.
func entryOf(b []byte) (raftpb.Entry, error) {
	var e raftpb.Entry
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return e, e.Unmarshal(b)
		}
		rest = rest[n:]
		switch {
		case num >= 1 && num <= 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(rest)
			if n < 0 {
				return e, e.Unmarshal(b)
			}
			rest = rest[n:]
			switch num {
			case 1:
				e.Type = raftpb.EntryType(v)
			case 2:
				e.Term = v
			case 3:
				e.Index = v
			}
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return e, e.Unmarshal(b)
			}
			rest, e.Data = rest[n:], v
		default:
			return e, e.Unmarshal(b)
		}
	}
	return e, nil
}

// IsV2 says whether an entry's data is a v2 request: it does not parse as
// etcd's v3 InternalRaftRequest, or carries the v2 request in it.
//
// Most entries are v3 requests: their top-level fields are read without
// decoding (or copying) the request, and one without the v2 field (2) is
// not v2. Anything else goes to etcdserverpb's decoder.
func IsV2(data []byte) bool {
	if v3, sure := plainV3(data); sure {
		return !v3
	}
	var req etcdserverpb.InternalRaftRequest
	if err := req.Unmarshal(data); err != nil {
		return true
	}
	return req.V2 != nil
}

// plainV3 scans an InternalRaftRequest's top-level fields: ID (1) is a
// varint, every other field a message. sure is false when a field is
// not what that schema says, or is the v2 request (2): the decoder
// decides then.
func plainV3(data []byte) (v3, sure bool) {
	for rest := data; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 || num == 2 || (num == 1) != (typ == protowire.VarintType) || (num != 1 && typ != protowire.BytesType) {
			return false, false
		}
		rest = rest[n:]
		if n = protowire.ConsumeFieldValue(num, typ, rest); n < 0 {
			return false, false
		}
		rest = rest[n:]
	}
	return true, true
}
