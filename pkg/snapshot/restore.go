package snapshot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Target is one member's data directory to restore.
type Target struct {
	Name     string   `json:"name"`
	PeerURLs []string `json:"peerURLs"`
	DataDir  string   `json:"dataDir"`
	// Host is the member's host when it is not this machine ("ssh root@10.0.0.2").
	Host string `json:"host,omitempty"`
}

// RestoreOptions tune RestoreDataDirs.
type RestoreOptions struct {
	// Token is the new --initial-cluster-token (a random one when empty).
	Token string
	// InitialCluster is name=peerURL,...; built from the targets when empty.
	InitialCluster string
	// Force moves non-empty data directories aside (never deletes them).
	Force bool
	// EtcdVersion is the version that will run on the data; a snapshot of a
	// newer minor is refused.
	EtcdVersion string
	// RevisionBump raises every restored revision by this much and
	// MarkCompacted marks the old ones compacted (etcdutl 3.6's
	// --bump-revision and --mark-compacted, etcd-io/etcd#16028): watchers
	// that saw revisions past the snapshot re-list instead of missing
	// events. Both or neither, as in etcdutl.
	RevisionBump  uint64
	MarkCompacted bool
	// Log receives etcdutl's log; nil discards it.
	Log *zap.Logger
	// Progress receives the steps of a whole-cluster restore; nil
	// discards them.
	Progress *slog.Logger
	// Sidecar is the snapshot's, when the caller fetched it from a store
	// (else it is read beside the file); it says which cluster the
	// snapshot is of.
	Sidecar *Sidecar
	// OtherCluster accepts a snapshot of another cluster than the running
	// one restored into (its keys replace the cluster's).
	OtherCluster bool
}

// KubernetesBump is the revision bump of a restore under Kubernetes when
// none is given: far past any revision the API server and its watchers
// can have seen since the snapshot (a cluster would need a billion writes
// to get there), and far below the int64 revision space.
const KubernetesBump = 1_000_000_000

// BumpCovers refuses a bump that would leave the restored cluster at a
// revision clients have seen already: live is the revision the cluster
// reached (0 when it is gone and nobody knows).
func BumpCovers(live, snapshotRev int64, bump uint64) error {
	if bump > 0 && live > snapshotRev+int64(bump) {
		return fmt.Errorf("the cluster reached revision %d; a bump of %d from the snapshot's %d restarts below it: use --bump-revision %d or more", live, bump, snapshotRev, live-snapshotRev+1)
	}
	return nil
}

// CheckBump applies etcdutl's rule: --mark-compacted goes with a
// --bump-revision above zero, and a bump needs --mark-compacted, or
// clients that saw the skipped revisions could read and watch from them.
func (o RestoreOptions) CheckBump() error {
	switch {
	case o.RevisionBump > 0 && !o.MarkCompacted:
		return errors.New("--bump-revision needs --mark-compacted: without it, watchers that saw revisions past the snapshot would resume from revisions that now hold different data instead of re-listing")
	case o.MarkCompacted && o.RevisionBump == 0:
		return errors.New("--mark-compacted needs --bump-revision N (N > 0)")
	}
	return nil
}

// NewToken returns a fresh cluster token.
func NewToken() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "etcdpilot-restore-" + hex.EncodeToString(b)
}

// Check verifies a snapshot file before anything is restored from it: the
// SHA-256 trailer, bbolt's consistency check, etcd's buckets.
func Check(file string) (*Info, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	// The trailer hash and bbolt's page walk read the file independently.
	type trailer struct {
		sum string
		err error
	}
	tc := make(chan trailer, 1)
	go func() {
		sum, _, err := CheckTrailer(file)
		tc <- trailer{sum, err}
	}()
	info, infoErr := ReadInfo(file, true)
	t := <-tc
	if t.err != nil {
		return nil, t.err // a bad trailer explains a bbolt failure best
	}
	if infoErr != nil {
		return nil, infoErr
	}
	info.SHA256 = t.sum
	return info, nil
}

// CheckVersion refuses to restore a snapshot of a newer minor than the etcd
// that will run on it.
func CheckVersion(file string, info *Info, target string) error {
	if target == "" {
		return nil
	}
	snapV := info.ClusterVersion
	if sc, err := ReadSidecar(file); err == nil && sc.EtcdVersion != "" {
		snapV = sc.EtcdVersion
	}
	if info.StorageVersion != "" && version.Compare(info.StorageVersion, snapV) > 0 {
		snapV = info.StorageVersion
	}
	if snapV == "" {
		return nil
	}
	if version.Compare(version.Minor(snapV)+".0", version.Minor(target)+".0") > 0 {
		return fmt.Errorf("%s comes from etcd %s; etcd %s cannot run on newer data (restore it with %s or later, or downgrade first)", file, snapV, target, version.Minor(snapV))
	}
	return nil
}

// RestoreDataDirs restores every target's data directory from the snapshot
// with one new cluster token, using etcd's own etcdutl snapshot package. All
// checks run before anything is written; each directory is restored into a
// temporary directory beside it and renamed into place, so a failure leaves
// the data directories as they were.
func RestoreDataDirs(file string, targets []Target, opts RestoreOptions) (string, error) {
	info, err := Check(file)
	if err != nil {
		return "", err
	}
	if err := CheckVersion(file, info, opts.EtcdVersion); err != nil {
		return "", err
	}
	if len(targets) == 0 {
		return "", errors.New("no members to restore")
	}
	if err := opts.CheckBump(); err != nil {
		return "", err
	}
	if opts.Token == "" {
		opts.Token = NewToken()
	}
	if opts.InitialCluster == "" {
		opts.InitialCluster = initialCluster(targets)
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	for _, t := range targets {
		if err := checkDataDir(t.DataDir, opts.Force); err != nil {
			return "", err
		}
	}
	// Move non-empty directories aside; put them back if anything fails.
	var aside [][2]string
	var tmps []string
	undo := func() {
		for _, d := range tmps {
			os.RemoveAll(d)
		}
		for _, a := range aside {
			os.Rename(a[1], a[0])
		}
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	for _, t := range targets {
		if empty, _ := fsutil.DirEmpty(t.DataDir); !empty {
			to := asideDir(t.DataDir, stamp)
			if err := os.Rename(t.DataDir, to); err != nil {
				undo()
				return "", err
			}
			aside = append(aside, [2]string{t.DataDir, to})
		}
	}
	for _, t := range targets {
		if err := os.MkdirAll(filepath.Dir(t.DataDir), 0o700); err != nil {
			undo()
			return "", err
		}
		tmps = append(tmps, restoreTemp(t, stamp))
	}
	// Every member's directory at once: each restore reads the snapshot
	// and writes its own directory.
	err = each(targets, func(t Target) error {
		tmp := restoreTemp(t, stamp)
		err := etcdutl.NewV3(opts.Log).Restore(etcdutl.RestoreConfig{
			SnapshotPath:        file,
			Name:                t.Name,
			OutputDataDir:       tmp,
			PeerURLs:            t.PeerURLs,
			InitialCluster:      opts.InitialCluster,
			InitialClusterToken: opts.Token,
			// Check verified the trailer above; etcdutl would hash it again.
			SkipHashCheck: true,
			RevisionBump:  opts.RevisionBump,
			MarkCompacted: opts.MarkCompacted,
		})
		if err == nil {
			err = os.Chmod(tmp, 0o700)
		}
		if err != nil {
			return fmt.Errorf("restore into %s: %w", t.DataDir, err)
		}
		return nil
	})
	if err != nil {
		undo()
		return "", err
	}
	for i, t := range targets {
		os.Remove(t.DataDir) // an empty directory is in the way of the rename
		if err := os.Rename(tmps[i], t.DataDir); err != nil {
			undo()
			return "", err
		}
		if err := fsutil.SyncDir(filepath.Dir(t.DataDir)); err != nil {
			return "", err
		}
	}
	return opts.Token, nil
}

// restoreTemp is where a member's data directory is restored before it
// is renamed into place.
func restoreTemp(t Target, stamp string) string {
	return fmt.Sprintf("%s.etcdpilot-restore-%s", t.DataDir, stamp)
}

// asideDir is where a data directory is moved aside by a restore.
func asideDir(dataDir, stamp string) string {
	return fmt.Sprintf("%s.etcdpilot-aside-%s", dataDir, stamp)
}

// checkDataDir refuses a directory a running etcd uses, and a non-empty one
// unless force is set.
func checkDataDir(dir string, force bool) error {
	if dir == "" {
		return errors.New("a data directory is required")
	}
	if inUse(dir) {
		return fmt.Errorf("data directory %s is in use by a running etcd (its database is locked); stop that member first", dir)
	}
	empty, err := fsutil.DirEmpty(dir)
	if err != nil {
		return err
	}
	if !empty && !force {
		return fmt.Errorf("data directory %s is not empty; pass --force to move it aside (it is never deleted)", dir)
	}
	return nil
}

// inUse reports whether etcd holds its bbolt lock on the directory's database.
func inUse(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "member", "snap", "db"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
