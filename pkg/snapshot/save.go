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
	"time"

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
	// Encoding compresses and/or encrypts the stored file, after the raw
	// snapshot has been verified.
	Encoding Encoding
}

// Save streams a snapshot from a member into dest (a file, or a directory
// that gets a timestamped name) and returns its sidecar and path. The data
// goes to a 0600 temporary file beside dest, hashed while it streams; the
// trailer is checked, the file is fsynced, opened with bbolt and compared
// with the member's HashKV, and only then published under its name without
// replacing anything (a second save to the same name fails), and its
// directory fsynced. A failure leaves nothing under the final name. Into
// object storage the upload runs beside those checks and completes only
// when they pass.
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
	store, name, err := destination(ctx, dest, cl.ClusterID)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(store.String(), name)
	if IsS3(dest) {
		path = store.String() + name
	}
	c, err := s.Pool().Client(ctx, src.Endpoint)
	if err != nil {
		return nil, "", err
	}
	tmp, err := fsutil.CreateTemp(filepath.Join(store.Scratch(), name), 0o600)
	if err != nil {
		return nil, "", err
	}
	defer tmp.Abort() // no-op after Put
	sc := &Sidecar{File: name, ClusterID: cl.ClusterID, Member: src.Name, MemberID: src.ID, Endpoint: src.Endpoint,
		EtcdVersion: src.ServerVersion, CreatedAt: time.Now().UTC(), Etcdpilot: opts.Version}

	if s3, ok := store.(*S3); ok && opts.Encoding.Suffix() == "" {
		return saveToS3(ctx, s, c, src, s3, tmp, name, path, sc, opts)
	}
	sum, n, err := stream(ctx, c, &writeBehind{f: tmp.File}, src.Name, opts)
	if err != nil {
		return nil, "", err
	}
	if err := check(ctx, s, c, src, tmp, sum, n, sc, opts); err != nil {
		return nil, "", err
	}
	if suffix := opts.Encoding.Suffix(); suffix != "" {
		enc, err := encode(tmp.Name(), filepath.Join(store.Scratch(), name+suffix), opts.Encoding)
		if err != nil {
			return nil, "", err
		}
		tmp.Abort()
		tmp, name, path = enc, name+suffix, path+suffix
		defer tmp.Abort()
		sc.File, sc.Encoding = name, opts.Encoding.Names()
	}
	if err := store.Put(ctx, name, tmp, sc); err != nil {
		if fsutil.Exists(path) && !errors.Is(err, fsutil.ErrExists) {
			return nil, "", fmt.Errorf("snapshot saved as %s but its sidecar could not be written: %w", path, err)
		}
		return nil, "", putError(err, path)
	}
	return sc, path, nil
}

// saveToS3 is Save into object storage without encoding: the stream goes
// to the scratch file and, through a pipe, straight into the multipart
// upload; the local checks run once it ends, and the upload completes
// only when they pass (an error aborts it). The scratch file is not
// fsynced: the object is the copy that must last.
func saveToS3(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, store *S3, tmp *fsutil.TempFile, name, path string, sc *Sidecar, opts SaveOptions) (*Sidecar, string, error) {
	pr, pw := io.Pipe()
	verified, uploaded := make(chan error, 1), make(chan error, 1)
	go func() {
		err := store.upload(ctx, name, pr, "", verified)
		pr.CloseWithError(err) // the stream stops if the upload does
		uploaded <- err
	}()
	sum, n, err := stream(ctx, c, io.MultiWriter(&writeBehind{f: tmp.File}, pw), src.Name, opts)
	pw.Close()
	if err == nil {
		err = inspect(ctx, s, c, src, tmp, sum, n, sc, opts)
	}
	verified <- err
	if uerr := <-uploaded; uerr != nil && uerr != err {
		return nil, "", putError(uerr, path) // the upload failed first (and broke the stream)
	}
	if err != nil {
		return nil, "", err
	}
	if err := store.PutSidecar(ctx, name, sc); err != nil {
		return nil, "", fmt.Errorf("snapshot saved as %s but its sidecar could not be written: %w", path, err)
	}
	return sc, path, nil
}

// check fsyncs the streamed file and inspects it (the two overlap).
func check(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, tmp *fsutil.TempFile, sum string, n int64, sc *Sidecar, opts SaveOptions) error {
	syncErr := make(chan error, 1)
	go func() { syncErr <- tmp.Sync() }()
	err := inspect(ctx, s, c, src, tmp, sum, n, sc, opts)
	if serr := <-syncErr; serr != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), serr)
	}
	return err
}

// inspect reads the streamed file with bbolt, records what it found in
// the sidecar and, if asked, compares its HashKV with the member's.
func inspect(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, tmp *fsutil.TempFile, sum string, n int64, sc *Sidecar, opts SaveOptions) error {
	info, err := ReadInfo(tmp.Name(), false)
	if err != nil {
		return err
	}
	info.SHA256 = sum
	info.Size = n
	sc.Info = *info
	if opts.CompareMember {
		return compareMemberHash(ctx, s, c, src, info, sc)
	}
	return nil
}

func putError(err error, path string) error {
	if errors.Is(err, fsutil.ErrExists) {
		return fmt.Errorf("%s already exists (another save took the name first); nothing was saved", path)
	}
	return err
}

func compareMemberHash(ctx context.Context, s *cluster.Session, c *clientv3.Client, src *status.Member, info *Info, sc *Sidecar) error {
	hctx, cancel := s.Pool().WithTimeout(ctx)
	defer cancel()
	hk, err := c.HashKV(hctx, src.Endpoint, info.Revision)
	if err != nil {
		return fmt.Errorf("HashKV from %s: %w", src.Name, err)
	}
	sc.HashKVMember = hk.Hash
	if hk.Hash != info.HashKV && hk.CompactRevision == info.CompactRevision {
		return fmt.Errorf("the snapshot's key-value hash at revision %d is %d but member %s reports %d; nothing was saved", info.Revision, info.HashKV, src.Name, hk.Hash)
	}
	return nil
}

// stream copies the snapshot into w, hashing the database part and checking
// it against the 32-byte SHA-256 trailer etcd sends last.
func stream(ctx context.Context, c *clientv3.Client, w io.Writer, member string, opts SaveOptions) (string, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := c.Snapshot(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("snapshot from %s: %w", member, err)
	}
	defer rc.Close()
	h := &trailerHash{h: sha256.New()}
	bar := progress.NewCounter(opts.Progress, "snapshot from "+member, 0)
	var dst io.Writer = io.MultiWriter(w, h, bar)
	if opts.OnBytes != nil {
		dst = io.MultiWriter(dst, callback(opts.OnBytes))
	}
	n, err := io.CopyBuffer(dst, rc, make([]byte, 1<<20))
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

type callback func(int64)

func (c callback) Write(p []byte) (int, error) {
	c(int64(len(p)))
	return len(p), nil
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

// destination turns dest into a directory store and a name: a directory
// (existing, or ending in /) gets snapshot-<cluster>-<UTC time>.db; an
// existing file is refused.
func destination(ctx context.Context, dest, clusterID string) (Store, string, error) {
	if dest == "" {
		dest = "."
	}
	stamped := fmt.Sprintf("snapshot-%s-%s.db", clusterID, time.Now().UTC().Format("20060102T150405.000Z"))
	if IsS3(dest) {
		if strings.HasSuffix(dest, "/") || strings.Count(dest, "/") == 2 {
			st, err := OpenStore(ctx, dest)
			return st, stamped, err
		}
		st, name, err := Locate(ctx, dest)
		if err != nil {
			return nil, "", err
		}
		if ok, err := st.Exists(ctx, name); err != nil || ok {
			if err == nil {
				err = fmt.Errorf("%s already exists; choose another name or a prefix ending in /", dest)
			}
			return nil, "", err
		}
		return st, name, nil
	}
	st, err := os.Stat(dest)
	isDir := (err == nil && st.IsDir()) || strings.HasSuffix(dest, string(os.PathSeparator))
	if isDir {
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return nil, "", err
		}
		return Dir{Path: filepath.Clean(dest)}, stamped, nil
	}
	if err == nil {
		return nil, "", fmt.Errorf("%s already exists; choose another name or a directory", dest)
	}
	if !isNotExist(err) {
		return nil, "", err
	}
	dir := filepath.Dir(dest)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("directory %s does not exist", dir)
	}
	return Dir{Path: dir}, filepath.Base(dest), nil
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
