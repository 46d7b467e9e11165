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
	"strings"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
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
	walSnaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return nil, fmt.Errorf("read the WAL's snapshot records in %s: %w", walDir, err)
	}
	start := walpb.Snapshot{}
	s, err := snap.New(lg, snapDir).LoadNewestAvailable(walSnaps)
	switch {
	case err == nil:
		start = walpb.Snapshot{Index: s.Metadata.Index, Term: s.Metadata.Term, ConfState: &s.Metadata.ConfState}
	case !errors.Is(err, snap.ErrNoSnapshot):
		return nil, fmt.Errorf("load the newest snapshot in %s: %w", snapDir, err)
	}
	w, err := wal.OpenForRead(lg, walDir, start)
	if err != nil {
		return nil, fmt.Errorf("open the WAL in %s: %w", walDir, err)
	}
	defer w.Close()
	_, hs, ents, err := w.ReadAll()
	if err != nil && len(ents) == 0 {
		return nil, fmt.Errorf("read the WAL in %s: %w", walDir, err)
	}
	r := &Result{SnapshotIndex: start.Index, Entries: len(ents), LastIndex: start.Index, Commit: hs.Commit}
	for _, e := range ents {
		r.LastIndex = e.Index
		if e.Type != raftpb.EntryNormal || len(e.Data) == 0 || !IsV2(e.Data) {
			continue
		}
		r.V2++
		if p := V2Path(e.Data); p != "" && !strings.HasPrefix(p, "/0/") && p != "/0" {
			r.V2Custom++
		}
		if r.FirstV2 == 0 {
			r.FirstV2 = e.Index
		}
		r.LastV2 = e.Index
	}
	return r, nil
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

// IsV2 says whether an entry's data is a v2 request: it does not parse as
// etcd's v3 InternalRaftRequest, or carries the v2 request in it.
func IsV2(data []byte) bool {
	var req etcdserverpb.InternalRaftRequest
	if err := req.Unmarshal(data); err != nil {
		return true
	}
	return req.V2 != nil
}
