package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// SaveOptions tune Save.
type SaveOptions struct {
	// From names the member to stream from; empty picks the most caught-up
	// healthy member.
	From string
	// Progress receives a progress line with bytes/s; nil is silent.
	Progress io.Writer
	// OnBytes, when set, sees the running byte count (tests use it to
	// disturb a save in flight).
	OnBytes func(n int64)
	// Version is etcdpilot's version, recorded in the sidecar.
	Version string
	// CompareMember also asks the member for its HashKV at the snapshot's
	// revision and requires it to equal the file's (a full scan on the
	// member: it costs about as much as reading the file again).
	CompareMember bool
	// Verify checks the stored bytes where the store staged them on this
	// machine as they are (a local store, no encoding), before they are
	// published: bbolt's consistency check, and the snapshot's HashKV
	// equal to the member's at its revision (CompareMember); then the
	// sidecar is marked verified. The bytes are read once after the
	// stream. Elsewhere it does nothing (the sidecar is not marked:
	// Verify must read the stored object back).
	Verify bool
	// Hashes is the change's hash cache: a member's HashKV at the
	// snapshot's revision found there is not asked for again.
	Hashes *status.HashCache
	// Encoding compresses and/or encrypts the stored file on the way.
	Encoding Encoding
	// Stores opens dest (S3 settings).
	Stores Stores
	// Stall ends a stream whose member sends nothing for this long while
	// etcdpilot waits for it (default StallTimeout). The clients send no
	// keepalive pings (etcd's server answers them with GOAWAY), so a
	// frozen member would otherwise hold the save forever.
	Stall time.Duration
}

// StallTimeout is how long a snapshot stream may stay silent.
const StallTimeout = 30 * time.Second

// Save streams a snapshot from a member into dest (a file, a directory
// that gets a timestamped name, or s3://BUCKET/PREFIX/[NAME]) and returns
// its sidecar and location. The stream goes into the store's Put, hashed
// on the way (encoded on the way with Encoding); when it ends, the
// trailer is checked and the raw bytes — where the store staged them on
// this machine, else a 0600 scratch copy taken on the way — are opened
// with bbolt and, if asked, compared with the member's HashKV; only then
// does the store publish the snapshot under its name, never replacing
// one. A failure leaves nothing under the name.
func Save(ctx context.Context, s *cluster.Session, dest string, opts SaveOptions) (*Sidecar, string, error) {
	cl, err := s.Status(ctx)
	if err != nil {
		return nil, "", err
	}
	src, err := pickSource(cl, opts.From)
	if err != nil {
		return nil, "", err
	}
	if _, err := ParseRecipients(opts.Encoding.Recipients); err != nil {
		return nil, "", err
	}
	store, name, err := destination(ctx, opts.Stores, dest, cl.ClusterID)
	if err != nil {
		return nil, "", err
	}
	name += opts.Encoding.Suffix()
	c, err := s.Pool().Client(ctx, src.Endpoint)
	if err != nil {
		return nil, "", err
	}
	sc := &Sidecar{File: name, ClusterID: cl.ClusterID, Member: src.Name, MemberID: src.ID, Endpoint: src.Endpoint,
		EtcdVersion: src.ServerVersion, CreatedAt: time.Now().UTC(), Etcdpilot: opts.Version, Encoding: opts.Encoding.Names()}

	// The raw bytes are inspected in place where the store stages them
	// here as they are; otherwise a scratch copy is kept on the way.
	var scratch *fsutil.TempFile
	lf, local := store.(LocalFiles)
	if err := needSpace(lf, local, name, opts.Encoding.Suffix() != "", src.DBSize); err != nil {
		return nil, "", err
	}
	if !local || opts.Encoding.Suffix() != "" {
		dir := os.TempDir()
		if local {
			dir = filepath.Dir(lf.File(name))
		}
		if scratch, err = fsutil.CreateTemp(filepath.Join(dir, name+".raw"), 0o600); err != nil {
			return nil, "", err
		}
		defer scratch.Abort()
	}
	// A plain stream's messages go to the store as they came; an
	// encoder's output, written from buffers it reuses, through a pipe.
	var (
		pr interface {
			io.Reader
			CloseWithError(error) error
		}
		pw interface {
			io.Writer
			CloseWithError(error) error
		}
	)
	if opts.Encoding.Suffix() == "" {
		pr, pw = newBlobPipe(64)
	} else {
		pr, pw = io.Pipe()
	}
	var (
		sum       string
		n         int64
		stored    = newHasher()
		streamErr = make(chan error, 1)
	)
	go func() {
		// A plain stream's hash is the trailer check's below; an encoded
		// one's stored bytes differ and are hashed as they leave.
		var w io.Writer = pw
		closeEnc := func() error { return nil }
		if opts.Encoding.Suffix() != "" {
			enc, err := encoder(io.MultiWriter(pw, stored), opts.Encoding)
			if err != nil {
				pw.CloseWithError(err)
				streamErr <- err
				return
			}
			w, closeEnc = enc, enc.Close
		}
		if scratch != nil {
			w = io.MultiWriter(scratch.File, w)
		}
		var err error
		sum, n, err = stream(ctx, c, w, src.Name, opts)
		if err == nil {
			err = closeEnc()
		}
		pw.CloseWithError(err)
		streamErr <- err
	}()
	committed := false
	err = store.Put(ctx, name, pr, func(staged string) (*Sidecar, error) {
		committed = true
		if err := <-streamErr; err != nil {
			return nil, err
		}
		raw := staged
		if scratch != nil {
			raw = scratch.Name()
		}
		if len(sc.Encoding) > 0 {
			sc.StoredSHA256 = stored.sum()
		}
		return sc, inspect(ctx, s, c, src, raw, sum, n, sc, opts, scratch == nil)
	})
	// A store that failed before the stream ended stops it here; the
	// stream's own failure is what Put returned then.
	pr.CloseWithError(errors.New("the store stopped reading"))
	if !committed {
		<-streamErr
	}
	if err != nil {
		return nil, "", putError(err, store.Location(name))
	}
	return sc, store.Location(name), nil
}

// inspect reads the raw snapshot with bbolt, records what it found in the
// sidecar and, if asked, compares its HashKV with the member's. The
// member hashes while the file is read back: the snapshot's revision is
// read first, from its last key.
func inspect(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, raw, sum string, n int64, sc *Sidecar, opts SaveOptions, inPlace bool) error {
	verify := opts.Verify && inPlace
	var asked chan memberAnswer
	if opts.CompareMember || verify {
		rev, compact, err := fileHead(raw)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		asked = make(chan memberAnswer, 1)
		go func() { asked <- memberHash(ctx, s, c, src, rev, compact, opts.Hashes) }()
	}
	info, err := ReadInfo(raw, verify)
	if err != nil {
		return err
	}
	info.SHA256 = sum
	info.Size = n
	sc.Info = *info
	compared := false
	if asked != nil {
		if compared, err = judgeMemberHash(<-asked, src, info, sc); err != nil {
			return err
		}
	}
	if verify && !compared {
		// The member compacted since: the bytes on disk are proven by
		// reading them back instead.
		back, _, err := CheckTrailer(raw)
		if err != nil {
			return err
		}
		if back != sum {
			return fmt.Errorf("%w: %s reads back with SHA-256 %s, but the stream's was %s; nothing was saved", ErrCorrupt, raw, back, sum)
		}
	}
	if verify {
		now := time.Now().UTC()
		sc.VerifiedAt = &now
	}
	return nil
}

func putError(err error, path string) error {
	if errors.Is(err, fsutil.ErrExists) {
		return fmt.Errorf("%s already exists (another save took the name first); nothing was saved", path)
	}
	return err
}

// memberAnswer is the member's HashKV at the snapshot's revision.
type memberAnswer struct {
	hash    uint32
	compact int64
	err     error
}

// memberHash asks the member for its HashKV at the snapshot's revision
// (from cache where it is there); compact is the snapshot's
// compact revision.
func memberHash(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, rev, compact int64, cache *status.HashCache) memberAnswer {
	if hash, got, ok := cache.Lookup(src.ID, rev); ok && got == compact {
		return memberAnswer{hash, got, nil}
	}
	hctx, cancel := s.Pool().WithScanTimeout(ctx, src.DBSize)
	defer cancel()
	hk, err := c.HashKV(hctx, src.Endpoint, rev)
	if err != nil {
		return memberAnswer{err: fmt.Errorf("HashKV from %s: %w", src.Name, err)}
	}
	a := memberAnswer{hk.Hash, hk.CompactRevision, nil}
	if a.compact != compact && rev == compact {
		// The snapshot's revision is the member's last compaction,
		// which it answers with the hash it kept while compacting
		// (another compact revision): its head, revision 0, is hashed.
		hk, still, err := status.HeadHash(hctx, c, src.Endpoint, rev)
		if err != nil {
			return memberAnswer{err: fmt.Errorf("HashKV from %s: %w", src.Name, err)}
		}
		if still {
			a = memberAnswer{hk.Hash, hk.CompactRevision, nil}
		}
	}
	return a
}

// judgeMemberHash compares the snapshot's HashKV with the member's and
// says whether they could be compared: not when the member has compacted
// since.
func judgeMemberHash(a memberAnswer, src *status.Member, info *Info, sc *Sidecar) (bool, error) {
	if a.err != nil {
		return false, a.err
	}
	sc.HashKVMember = a.hash
	if a.hash != info.HashKV && a.compact == info.CompactRevision {
		return false, fmt.Errorf("the snapshot's key-value hash at revision %d is %d but member %s reports %d; nothing was saved", info.Revision, info.HashKV, src.Name, a.hash)
	}
	return a.compact == info.CompactRevision, nil
}

// stream copies the snapshot into w, hashing the database part and checking
// it against the 32-byte SHA-256 trailer etcd sends last. It reads etcd's
// messages itself (clientv3's Snapshot hands them through a pipe to one
// more goroutine) and hashes them in a goroutine of its own while the next
// one is written: each message's blob is a slice of its own, never reused.
func stream(ctx context.Context, c *clientv3.Client, w io.Writer, member string, opts SaveOptions) (string, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss, err := pb.NewMaintenanceClient(c.ActiveConnection()).Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		return "", 0, fmt.Errorf("snapshot from %s: %w", member, clientv3.ContextError(ctx, err))
	}
	blobs := make(chan []byte, 64)
	hashed := make(chan *trailerHash, 1)
	go func() {
		h := &trailerHash{h: sha256.New()}
		for b := range blobs {
			h.Write(b)
		}
		hashed <- h
	}()
	bar := progress.NewCounter(opts.Progress, "snapshot from "+member, 0)
	stall := opts.Stall
	if stall <= 0 {
		stall = StallTimeout
	}
	g := &stallGuard{}
	stop := g.watch(stall, cancel)
	n, err := receive(ss, g, func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		blobs <- b
		bar.Write(b)
		if opts.OnBytes != nil {
			opts.OnBytes(int64(len(b)))
		}
		return nil
	})
	stop()
	close(blobs)
	h := <-hashed
	if g.stalled.Load() {
		return "", n, fmt.Errorf("%s sent nothing for %s (after %s): the member is frozen or the network drops its replies; nothing was saved", member, stall, progress.Bytes(n))
	}
	if err != nil {
		return "", n, fmt.Errorf("snapshot stream from %s broke after %s: %w; nothing was saved", member, progress.Bytes(n), err)
	}
	bar.Finish()
	if n < trailerLen {
		return "", n, fmt.Errorf("snapshot stream from %s ended after %d bytes; nothing was saved", member, n)
	}
	sum := h.h.Sum(nil)
	if string(sum) != string(h.tail[:]) {
		return "", n, fmt.Errorf("%w: the stream from %s does not match its SHA-256 trailer; nothing was saved", ErrCorrupt, member)
	}
	return hex.EncodeToString(sum), n, nil
}

// receive passes each message's blob to got until the stream ends; the
// guard times each wait for a message.
func receive(ss pb.Maintenance_SnapshotClient, g *stallGuard, got func([]byte) error) (int64, error) {
	var n int64
	for {
		g.since.Store(time.Now().UnixNano())
		resp, err := ss.Recv()
		g.since.Store(0)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, rpctypes.Error(err)
		}
		if err := got(resp.Blob); err != nil {
			return n, err
		}
		n += int64(len(resp.Blob))
	}
}

// trailerHash hashes everything written to it except the last 32 bytes,
// which it keeps as the trailer.
type trailerHash struct {
	h    hash.Hash
	tail [trailerLen]byte
	have int
}

func (t *trailerHash) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= trailerLen {
		t.h.Write(t.tail[:t.have])
		t.h.Write(p[:len(p)-trailerLen])
		t.have = copy(t.tail[:], p[len(p)-trailerLen:])
		return n, nil
	}
	if t.have+len(p) > trailerLen {
		// The oldest tail bytes are content now.
		excess := t.have + len(p) - trailerLen
		t.h.Write(t.tail[:excess])
		copy(t.tail[:], t.tail[excess:t.have])
		t.have -= excess
	}
	t.have += copy(t.tail[t.have:], p)
	return n, nil
}

// pickSource returns the member to stream from: the named one, or the
// healthy voter with the highest applied index (a follower on a tie, to
// spare the leader).
func pickSource(cl *status.Cluster, from string) (*status.Member, error) {
	if from == "" {
		if m := cluster.PickMember(cl, cluster.Pick{SpareLeader: true}); m != nil {
			return m, nil
		}
		return nil, errors.New("no healthy member to take a snapshot from")
	}
	for i := range cl.Members {
		m := &cl.Members[i]
		if m.Name == from || m.ID == from || m.Endpoint == from {
			if !m.Reachable {
				return nil, fmt.Errorf("member %s is not reachable: %s", from, m.Error)
			}
			return m, nil
		}
	}
	var names []string
	for _, m := range cl.Members {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("no member %q (members: %s)", from, strings.Join(names, ", "))
}

// destination turns dest into a store and a name: a store (a directory,
// a path ending in /, an s3:// bucket or prefix ending in /) gets
// snapshot-<cluster>-<UTC time>.db; a named snapshot that exists is
// refused, and so is a file in a directory that does not exist.
func destination(ctx context.Context, stores Stores, dest, clusterID string) (Store, string, error) {
	if dest == "" {
		dest = "."
	}
	stamped := fmt.Sprintf("snapshot-%s-%s.db", clusterID, time.Now().UTC().Format("20060102T150405.000Z"))
	if stores.IsStore(dest) {
		st, err := stores.Open(ctx, dest, true)
		return st, stamped, err
	}
	st, name, err := stores.Locate(ctx, dest)
	if err != nil {
		return nil, "", err
	}
	if lf, ok := st.(LocalFiles); ok {
		if fi, err := os.Stat(filepath.Dir(lf.File(name))); err != nil || !fi.IsDir() {
			return nil, "", fmt.Errorf("directory %s does not exist", filepath.Dir(lf.File(name)))
		}
	}
	if ok, err := st.Exists(ctx, name); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%s already exists; choose another name, or a directory or prefix ending in /", dest)
		}
		return nil, "", err
	}
	return st, name, nil
}

// writeBehind starts the kernel's writeback of every 16 MiB as soon as it is
// written (sync_file_range), so that the final fsync has little left to do
// and the disk works while the stream is still arriving.
type writeBehind struct {
	f       *os.File
	off     int64
	flushed int64
}

const writeBehindChunk = 16 << 20

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.flushed >= writeBehindChunk {
		// Errors surface in the final fsync; this is only a hint.
		unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}

// SaveResult is what snapshot save reports.
type SaveResult struct {
	Path    string        `json:"path"`
	Took    time.Duration `json:"took"`
	Sidecar *Sidecar      `json:"sidecar"`
}

// stallGuard times the waits for a stream: a wait longer than the limit
// cancels the stream. Time the writer takes (a slow upload) is not a
// wait.
type stallGuard struct {
	since   atomic.Int64 // when the pending wait for a message began (unix ns), 0 outside one
	stalled atomic.Bool
}

// watch cancels the stream when a wait exceeds limit, until stop.
func (g *stallGuard) watch(limit time.Duration, cancel context.CancelFunc) (stop func()) {
	done := make(chan struct{})
	tick := max(limit/10, 10*time.Millisecond)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s := g.since.Load(); s != 0 && time.Since(time.Unix(0, s)) > limit {
					g.stalled.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// needSpace refuses a save this machine's disk cannot hold before
// anything streams: the database's size where a local store stages it
// (twice when it is also encoded there), or its scratch copy in the
// temporary directory for a remote store.
func needSpace(lf LocalFiles, local bool, name string, encoded bool, size int64) error {
	dir, need := os.TempDir(), size
	if local {
		dir = filepath.Dir(lf.File(name))
		if encoded {
			need *= 2
		}
	}
	return fsutil.NeedSpace(dir, need, fmt.Sprintf("a snapshot of %s", progress.Bytes(size)))
}
