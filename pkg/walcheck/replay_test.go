package walcheck

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// writeWAL writes a WAL with etcd's own writer: n entries from index 1
// (every tenth a v2 request, value bytes of payload each), then, when
// override is set, entries 6 to 8 again under a newer term (raft's
// figure 7), the middle one a v2 request.
func writeWAL(t testing.TB, dir string, n, payload int, override bool) {
	t.Helper()
	w, err := wal.Create(zap.NewNop(), dir, nil)
	testutil.Must(t, err)
	v3 := etcdserverpb.InternalRaftRequest{Put: &etcdserverpb.PutRequest{Key: []byte("k"), Value: make([]byte, payload)}}
	v3b, err := v3.Marshal()
	testutil.Must(t, err)
	v2 := etcdserverpb.Request{Method: "PUT", Path: "/1/custom"}
	v2b, err := v2.Marshal()
	testutil.Must(t, err)
	entry := func(i, term uint64) raftpb.Entry {
		if i%10 == 0 {
			return raftpb.Entry{Index: i, Term: term, Data: v2b}
		}
		return raftpb.Entry{Index: i, Term: term, Data: v3b}
	}
	for i := uint64(1); i <= uint64(n); i += 100 {
		var ents []raftpb.Entry
		for j := i; j < i+100 && j <= uint64(n); j++ {
			ents = append(ents, entry(j, 1))
		}
		testutil.Must(t, w.Save(raftpb.HardState{Term: 1, Commit: ents[len(ents)-1].Index}, ents))
	}
	if override {
		testutil.Must(t, w.Save(raftpb.HardState{Term: 2, Commit: 5}, []raftpb.Entry{{Index: 6, Term: 2, Data: v3b}, {Index: 7, Term: 2, Data: v2b}, {Index: 8, Term: 2, Data: v3b}}))
	}
	testutil.Must(t, w.Close())
}

// readAll is what etcd's WAL.ReadAll makes of the same WAL.
func readAll(t testing.TB, dir string) (int, int, uint64) {
	w, err := wal.OpenForRead(zap.NewNop(), dir, walpb.Snapshot{})
	testutil.Must(t, err)
	defer w.Close()
	_, _, ents, err := w.ReadAll()
	if err != nil && len(ents) == 0 {
		t.Fatal(err)
	}
	v2 := 0
	for _, e := range ents {
		if len(e.Data) > 0 && IsV2(e.Data) {
			v2++
		}
	}
	return len(ents), v2, ents[len(ents)-1].Index
}

// TestReplayMatchesReadAll: the streaming read counts what etcd's
// ReadAll returns, with overridden entries and with a torn last record.
func TestReplayMatchesReadAll(t *testing.T) {
	for _, c := range []struct {
		name     string
		override bool
		tear     int64
	}{{"plain", false, 0}, {"overridden entries", true, 0}, {"torn last record", false, 100}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			writeWAL(t, dir, 1000, 1000, c.override)
			if c.tear > 0 {
				names, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
				last := names[len(names)-1]
				fi, err := os.Stat(last)
				testutil.Must(t, err)
				// The segment is preallocated: cut into the last record.
				end := lastRecordEnd(t, last)
				testutil.Must(t, os.Truncate(last, min(fi.Size(), end-c.tear)))
			}
			n, v2, last := readAll(t, dir)
			t.Logf("ReadAll: %d entries, %d v2, last %d", n, v2, last)
			r, err := replay(dir, walpb.Snapshot{})
			testutil.Must(t, err)
			if r.Entries != n || r.V2 != v2 || r.LastIndex != last {
				t.Fatalf("replay: %d entries, %d v2, last %d; ReadAll: %d, %d, %d", r.Entries, r.V2, r.LastIndex, n, v2, last)
			}
			if r.V2Custom != v2 {
				t.Errorf("custom v2 writes: %d of %d", r.V2Custom, v2)
			}
		})
	}
}

// lastRecordEnd is the offset after the last record etcd's decoder reads.
func lastRecordEnd(t *testing.T, segment string) int64 {
	f, err := os.Open(segment)
	testutil.Must(t, err)
	defer f.Close()
	dec := wal.NewDecoder(fileutil.NewFileReader(f))
	rec := &walpb.Record{}
	for dec.Decode(rec) == nil {
	}
	return dec.LastOffset()
}

// walEntries of 100 KiB make the benchmark's WAL (640: 64 MiB).
var walEntries = 640

// BenchmarkReplay reads a 64 MiB WAL with the streaming replay and with
// etcd's ReadAll, and reports each one's peak heap: flat for the replay,
// the WAL's size for ReadAll.
func BenchmarkReplay(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "wal")
	writeWAL(b, dir, walEntries, 100<<10, false)
	for _, c := range []struct {
		name string
		read func()
	}{
		{"replay", func() { replay(dir, walpb.Snapshot{}) }},
		{"ReadAll", func() { readAll(b, dir) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var peak atomic.Uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				done := make(chan struct{})
				go func() {
					var m runtime.MemStats
					for {
						select {
						case <-done:
							return
						default:
						}
						runtime.ReadMemStats(&m)
						if d := m.HeapAlloc - min(m.HeapAlloc, base.HeapAlloc); d > peak.Load() {
							peak.Store(d)
						}
						time.Sleep(time.Millisecond)
					}
				}()
				c.read()
				close(done)
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		})
	}
}

// TestFastDecodingAgrees: the entry and v2 readers that skip decoding
// agree with etcd's decoders on every kind of entry data: v3 requests
// (with and without a header), a v2 request inside InternalRaftRequest,
// a bare v2 request as 3.4 wrote it, a conf change, garbage.
func TestFastDecodingAgrees(t *testing.T) {
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	datas := map[string][]byte{
		"put":          must((&etcdserverpb.InternalRaftRequest{Header: &etcdserverpb.RequestHeader{ID: 7}, Put: &etcdserverpb.PutRequest{Key: []byte("k"), Value: make([]byte, 100<<10)}}).Marshal()),
		"id-only":      must((&etcdserverpb.InternalRaftRequest{ID: 9, Compaction: &etcdserverpb.CompactionRequest{Revision: 3}}).Marshal()),
		"v2-inside":    must((&etcdserverpb.InternalRaftRequest{ID: 1, V2: &etcdserverpb.Request{Method: "PUT", Path: "/0/version", Val: "3.5.0"}}).Marshal()),
		"v2-bare":      must((&etcdserverpb.Request{ID: 3, Method: "PUT", Path: "/1/custom", Val: "x"}).Marshal()),
		"v2-no-method": must((&etcdserverpb.Request{ID: 3, Path: "/1/custom"}).Marshal()),
		"garbage":      []byte("\xff\xff\xff\xff\x0f not protobuf"),
		"empty":        nil,
	}
	for name, d := range datas {
		var req etcdserverpb.InternalRaftRequest
		want := req.Unmarshal(d) != nil || req.V2 != nil
		if got := IsV2(d); got != want {
			t.Errorf("%s: IsV2 %v, the decoder says %v", name, got, want)
		}
		for _, typ := range []raftpb.EntryType{raftpb.EntryNormal, raftpb.EntryConfChange} {
			b := must((&raftpb.Entry{Term: 4, Index: 1 << 40, Type: typ, Data: d}).Marshal())
			var e raftpb.Entry
			if err := e.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			got, err := entryOf(b)
			if err != nil || got.Term != e.Term || got.Index != e.Index || got.Type != e.Type || string(got.Data) != string(e.Data) {
				t.Errorf("%s: %+v %v, raftpb says %+v", name, got, err, e)
			}
		}
	}
	if _, err := entryOf([]byte("\x22\xff")); err == nil {
		t.Error("a cut entry decodes")
	}
}

// TestDecoderMatchesEtcds reads WALs record by record with this package's
// decoder and with etcd's wal.Decoder: over several segments (etcd's
// writer cut at 64 KiB), with a torn tail, and with a flipped byte in a
// record's data. Both give the same records, then the same kind of end
// (io.EOF, io.ErrUnexpectedEOF, a CRC mismatch).
func TestDecoderMatchesEtcds(t *testing.T) {
	old := wal.SegmentSizeBytes
	wal.SegmentSizeBytes = 64 << 10
	defer func() { wal.SegmentSizeBytes = old }()
	for _, c := range []struct {
		name string
		harm func(t *testing.T, segments []string) []string
	}{
		{"segments", func(_ *testing.T, s []string) []string { return s }},
		{"torn tail", func(t *testing.T, s []string) []string {
			// The last segment holding a record is cut into that record,
			// and is the last.
			i := len(s) - 1
			for lastRecordEnd(t, s[i]) < 1024 {
				testutil.Must(t, os.Remove(s[i]))
				i--
			}
			testutil.Must(t, os.Truncate(s[i], lastRecordEnd(t, s[i])-50))
			return s[:i+1]
		}},
		{"flipped byte", func(t *testing.T, s []string) []string {
			b, err := os.ReadFile(s[1])
			testutil.Must(t, err)
			b[len(b)/3] ^= 0xff
			testutil.Must(t, os.WriteFile(s[1], b, 0o600))
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			writeWAL(t, dir, 1000, 1000, true)
			segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
			if len(segments) < 3 {
				t.Fatalf("%d segments", len(segments))
			}
			segments = c.harm(t, segments)
			open := func() []fileutil.FileReader {
				var rs []fileutil.FileReader
				for _, s := range segments {
					f, err := os.Open(s)
					testutil.Must(t, err)
					t.Cleanup(func() { f.Close() })
					rs = append(rs, fileutil.NewFileReader(f))
				}
				return rs
			}
			theirs, ours := wal.NewDecoder(open()...), newDecoder(open()...)
			rec, mine := &walpb.Record{}, &record{}
			n := 0
			for {
				errT, errO := theirs.Decode(rec), ours.next(mine)
				if (errT == nil) != (errO == nil) {
					t.Fatalf("record %d: etcd's decoder %v, ours %v", n, errT, errO)
				}
				if errT != nil {
					for _, kind := range []error{io.EOF, io.ErrUnexpectedEOF, walpb.ErrCRCMismatch} {
						if errors.Is(errT, kind) != errors.Is(errO, kind) {
							t.Fatalf("the end after %d records: etcd's decoder %v, ours %v", n, errT, errO)
						}
					}
					t.Logf("%d records, then %v", n, errO)
					break
				}
				if rec.Type != mine.typ || rec.Crc != mine.crc || !bytes.Equal(rec.Data, mine.data) {
					t.Fatalf("record %d differs", n)
				}
				if rec.Type == crcType {
					theirs.UpdateCRC(rec.Crc)
					ours.updateCRC(mine.crc)
				}
				n++
			}
		})
	}
}

// TestValidSnapshotEntriesMatchesEtcds: the snapshot records this
// package's decoder finds are etcd's, over segments, with a snapshot
// record newer than the last commit left out.
func TestValidSnapshotEntriesMatchesEtcds(t *testing.T) {
	old := wal.SegmentSizeBytes
	wal.SegmentSizeBytes = 64 << 10
	defer func() { wal.SegmentSizeBytes = old }()
	dir := filepath.Join(t.TempDir(), "wal")
	w, err := wal.Create(zap.NewNop(), dir, nil)
	testutil.Must(t, err)
	cs := &raftpb.ConfState{Voters: []uint64{1}}
	for i := uint64(1); i <= 300; i++ {
		testutil.Must(t, w.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{{Index: i, Term: 1, Data: make([]byte, 1000)}}))
		if i%100 == 0 {
			testutil.Must(t, w.SaveSnapshot(walpb.Snapshot{Index: i, Term: 1, ConfState: cs}))
		}
	}
	testutil.Must(t, w.SaveSnapshot(walpb.Snapshot{Index: 400, Term: 1, ConfState: cs})) // past the commit
	testutil.Must(t, w.Close())
	want, err := wal.ValidSnapshotEntries(zap.NewNop(), dir)
	testutil.Must(t, err)
	got, err := validSnapshotEntries(dir, 0)
	testutil.Must(t, err)
	if len(want) != 4 || len(got) != len(want) { // Create's empty one, 100, 200, 300
		t.Fatalf("snapshots: etcd %d, ours %d", len(want), len(got))
	}
	for i := range want {
		if want[i].Index != got[i].Index || want[i].Term != got[i].Term {
			t.Errorf("snapshot %d: etcd %+v, ours %+v", i, want[i], got[i])
		}
	}
}

// TestCheckFromNewestSnapshot: Check reads the WAL from the segment of the
// newest snapshot file on, and starts where etcd would (its
// ValidSnapshotEntries over the whole WAL, then LoadNewestAvailable): at
// the newest snapshot with a WAL record at or below the commit; a newer
// file without its record (a crash between the two writes) or past the
// commit is passed over, as etcd passes it over.
func TestCheckFromNewestSnapshot(t *testing.T) {
	defer func(n int64) { wal.SegmentSizeBytes = n }(wal.SegmentSizeBytes)
	wal.SegmentSizeBytes = 64 << 10 // many segments
	for _, c := range []struct {
		name  string
		files []uint64 // .snap files written
		want  uint64
	}{
		{"newest has its record", []uint64{100, 200, 300}, 300},
		{"newest file without a record", []uint64{200, 300, 350}, 300},
		{"newest past the commit", []uint64{300, 400}, 300},
		{"no file with a record", []uint64{350}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			walDir, snapDir := filepath.Join(data, "member", "wal"), filepath.Join(data, "member", "snap")
			testutil.Must(t, os.MkdirAll(snapDir, 0o700))
			w, err := wal.Create(zap.NewNop(), walDir, nil)
			testutil.Must(t, err)
			cs := raftpb.ConfState{Voters: []uint64{1}}
			v2 := etcdserverpb.Request{Method: "PUT", Path: "/0/version"}
			v2b, err := v2.Marshal()
			testutil.Must(t, err)
			v3 := etcdserverpb.InternalRaftRequest{Put: &etcdserverpb.PutRequest{Key: []byte("k"), Value: make([]byte, 1000)}}
			v3b, err := v3.Marshal()
			testutil.Must(t, err)
			for i := uint64(1); i <= 500; i++ {
				d := v3b
				if i%50 == 0 {
					d = v2b
				}
				// Committed up to 350: the records of 400 and 500 are not
				// valid yet.
				testutil.Must(t, w.Save(raftpb.HardState{Term: 1, Commit: min(i, 350)}, []raftpb.Entry{{Index: i, Term: 1, Data: d}}))
				if i%100 == 0 {
					testutil.Must(t, w.SaveSnapshot(walpb.Snapshot{Index: i, Term: 1, ConfState: &cs}))
				}
			}
			testutil.Must(t, w.Close())
			ss := snap.New(zap.NewNop(), snapDir)
			for _, i := range c.files {
				testutil.Must(t, ss.SaveSnap(raftpb.Snapshot{Data: []byte("{}"), Metadata: raftpb.SnapshotMetadata{Index: i, Term: 1, ConfState: cs}}))
			}
			names, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
			if len(names) < 5 {
				t.Fatalf("%d segments", len(names))
			}
			walSnaps, err := wal.ValidSnapshotEntries(zap.NewNop(), walDir)
			testutil.Must(t, err)
			var etcds uint64
			if s, err := ss.LoadNewestAvailable(walSnaps); err == nil {
				etcds = s.Metadata.Index
			}
			r, err := Check(data, "")
			testutil.Must(t, err)
			if r.SnapshotIndex != c.want || etcds != c.want {
				t.Fatalf("starts at %d, etcd at %d; want %d", r.SnapshotIndex, etcds, c.want)
			}
			if wantV2 := (500 - c.want) / 50; r.V2 != int(wantV2) || r.LastIndex != 500 {
				t.Errorf("%d v2 entries up to %d; want %d up to 500", r.V2, r.LastIndex, wantV2)
			}
			// What etcd replays from there, by its own ReadAll (the
			// entries at or below the snapshot were skipped unread).
			start := walpb.Snapshot{Index: c.want}
			if c.want > 0 {
				start.Term = 1
			}
			ew, err := wal.OpenForRead(zap.NewNop(), walDir, start)
			testutil.Must(t, err)
			_, _, ents, err := ew.ReadAll()
			ew.Close()
			testutil.Must(t, err)
			v2s := 0
			for _, e := range ents {
				if IsV2(e.Data) {
					v2s++
				}
			}
			if r.Entries != len(ents) || r.V2 != v2s {
				t.Errorf("%d entries, %d v2; etcd's ReadAll: %d, %d", r.Entries, r.V2, len(ents), v2s)
			}
		})
	}
}
