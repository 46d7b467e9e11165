package rehearse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

// copyCluster makes the shadow from the source sandbox's members: their
// raft snapshot files first, then a consistent copy of their backend (a
// snapshot stream from each member, its trailer checked and cut), then
// their WAL, so that nothing in the copy is newer than what comes after
// it (etcd needs backend ≥ raft snapshot, and replays the WAL past both).
//
// The members keep writing while they are copied (a client that logs in
// writes an entry), so the WALs are copied last, all at once, and checked
// as a cut: every copy must hold every entry any copy has committed, or a
// copy that lacks some could lead the shadow and the others could not
// follow. A cut that is not consistent is copied again.
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
	var froms, tos []string
	for i, m := range st.Members {
		from, to := filepath.Join(m.DataDir, "member"), filepath.Join(sst.Members[i].DataDir, "member")
		froms, tos = append(froms, from), append(tos, to)
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
	}
	var why string
	for attempt := 0; attempt < 10; attempt++ {
		if err := copyWALs(froms, tos); err != nil {
			return shadow, err
		}
		if why, err = consistentCut(sst, tos); err != nil {
			return shadow, err
		}
		if why == "" {
			return shadow, nil
		}
	}
	return shadow, fmt.Errorf("the members' WALs could not be copied as one consistent cut in 10 tries (%s): the cluster writes too fast; rehearse from a snapshot (--snapshot FILE)", why)
}

// copyWALs copies every member's WAL at once, replacing earlier copies.
func copyWALs(froms, tos []string) error {
	errs := make([]error, len(froms))
	var wg sync.WaitGroup
	for i := range froms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := filepath.Join(tos[i], "wal")
			if errs[i] = os.RemoveAll(dst); errs[i] == nil {
				if errs[i] = os.MkdirAll(dst, 0o700); errs[i] == nil {
					errs[i] = copyFiles(filepath.Join(froms[i], "wal"), dst, ".wal")
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// consistentCut reads the copies' WALs as etcd will replay them: a copy
// whose last entry is below what another copy has committed makes the
// cut inconsistent (the reason is returned).
func consistentCut(sst *sandbox.State, tos []string) (string, error) {
	var maxCommit, minLast uint64
	var committer, lagger string
	for i, to := range tos {
		r, err := walcheck.Check(filepath.Dir(to), "")
		if err != nil {
			return "", fmt.Errorf("read the copy of %s's WAL: %w", sst.Members[i].Name, err)
		}
		if r.Commit > maxCommit {
			maxCommit, committer = r.Commit, sst.Members[i].Name
		}
		if i == 0 || r.LastIndex < minLast {
			minLast, lagger = r.LastIndex, sst.Members[i].Name
		}
	}
	if minLast < maxCommit {
		return fmt.Sprintf("%s's copy ends at index %d, %s's has committed %d", lagger, minLast, committer, maxCommit), nil
	}
	return "", nil
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
	shadow, err := sandbox.Create(ctx, root, o.Binaries, sandbox.Options{Name: ShadowName, Members: len(versions), Versions: versions, DieWithParent: true}, o.Log)
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
