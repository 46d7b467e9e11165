package rehearse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// copyCluster makes the shadow from the source sandbox's members: their
// raft snapshot files first, then a consistent copy of their backend (a
// snapshot stream from each member, its trailer checked and cut), then
// their WAL, so that nothing in the copy is newer than what comes after
// it (etcd needs backend ≥ raft snapshot, and replays the WAL past both).
func copyCluster(ctx context.Context, o Options, src *sandbox.Sandbox, cl *status.Cluster, root string) (*sandbox.Sandbox, error) {
	shadow, err := src.Shadow(root, ShadowName)
	if err != nil {
		return nil, err
	}
	st, err := src.State()
	if err != nil {
		return shadow, err
	}
	sst, err := shadow.State()
	if err != nil {
		return shadow, err
	}
	for i, m := range st.Members {
		from, to := filepath.Join(m.DataDir, "member"), filepath.Join(sst.Members[i].DataDir, "member")
		for _, d := range []string{"snap", "wal"} {
			if err := os.MkdirAll(filepath.Join(to, d), 0o700); err != nil {
				return shadow, err
			}
		}
		if err := copyFiles(filepath.Join(from, "snap"), filepath.Join(to, "snap"), ".snap"); err != nil {
			return shadow, err
		}
		_, file, err := snapshot.Save(ctx, o.Source, filepath.Join(root, m.Name+".db"), snapshot.SaveOptions{From: m.Name})
		if err != nil {
			return shadow, fmt.Errorf("copy the backend of %s: %w", m.Name, err)
		}
		if err := backendFromSnapshot(file, filepath.Join(to, "snap", "db")); err != nil {
			return shadow, err
		}
		if err := copyFiles(filepath.Join(from, "wal"), filepath.Join(to, "wal"), ".wal"); err != nil {
			return shadow, err
		}
	}
	return shadow, nil
}

// backendFromSnapshot turns a checked snapshot file into a member's
// backend: the same bytes without the 32-byte SHA-256 trailer.
func backendFromSnapshot(file, db string) error {
	_, size, err := snapshot.CheckTrailer(file)
	if err != nil {
		return err
	}
	if err := os.Truncate(file, size-32); err != nil {
		return err
	}
	return os.Rename(file, db)
}

// copyFiles copies the files of dir ending in suffix.
func copyFiles(from, to, suffix string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		if err := fsutil.CopyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()), 0o600, false); err != nil {
			return err
		}
	}
	return nil
}

// fromSnapshot makes the shadow as a new sandbox of the same size and
// versions, its members' data restored from the snapshot (given, or
// taken now from the source).
func fromSnapshot(ctx context.Context, o Options, cl *status.Cluster, root string) (*sandbox.Sandbox, error) {
	file := o.Snapshot
	if file == "" {
		var err error
		if _, file, err = snapshot.Save(ctx, o.Source, filepath.Join(root, "seed.db"), snapshot.SaveOptions{}); err != nil {
			return nil, fmt.Errorf("snapshot of the source: %w", err)
		}
	}
	var versions []string
	low := ""
	for _, m := range cl.Members {
		versions = append(versions, m.ServerVersion)
		if low == "" || version.Compare(m.ServerVersion, low) < 0 {
			low = m.ServerVersion
		}
	}
	shadow, err := sandbox.Create(ctx, root, o.Binaries, sandbox.Options{Name: ShadowName, Members: len(versions), Versions: versions}, o.Log)
	if err != nil {
		return nil, err
	}
	st, err := shadow.State()
	if err != nil {
		return shadow, err
	}
	var targets []snapshot.Target
	for _, m := range st.Members {
		if err := shadow.Stop(ctx, m.Name); err != nil {
			return shadow, err
		}
		targets = append(targets, snapshot.Target{Name: m.Name, PeerURLs: []string{m.PeerURL}, DataDir: m.DataDir})
	}
	if _, err := snapshot.RestoreDataDirs(file, targets, snapshot.RestoreOptions{Force: true, EtcdVersion: low}); err != nil {
		return shadow, err
	}
	// The directories moved aside by the restore are the fresh cluster's.
	matches, _ := filepath.Glob(filepath.Join(shadow.Dir, "members", "*.etcdpilot-aside-*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
	return shadow, fsutil.SyncDir(filepath.Join(shadow.Dir, "members"))
}
