package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// LockDir is where cluster locks live when the caller names no directory:
// $ETCDPILOT_LOCK_DIR; else, for root, /run/lock/etcdpilot (the FHS place
// for locks, which the agent's systemd unit and its Kubernetes pod share
// with the node's CLI, where a private /tmp would not); else
// etcdpilot-locks in the system's temporary directory — one place per
// machine, whatever --state-dir or --journal each command was given.
func LockDir() string {
	if d := os.Getenv("ETCDPILOT_LOCK_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		if fi, err := os.Stat(runLock); err == nil && fi.IsDir() {
			return filepath.Join(runLock, "etcdpilot")
		}
	}
	return filepath.Join(os.TempDir(), "etcdpilot-locks")
}

const runLock = "/run/lock"

// Lock takes the machine-wide lock of a cluster (by cluster ID) for a
// change; a second change of the same cluster from this machine is refused
// while the first runs, whichever journal each uses. The lock goes with the
// process, however it ends.
func Lock(dir, clusterID string) (*fsutil.Lock, error) {
	if dir == "" {
		dir = LockDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "cluster-"+clusterID+".lock")
	l, err := fsutil.TryLock(path)
	if errors.Is(err, fsutil.ErrLocked) {
		return nil, fmt.Errorf("another etcdpilot change (upgrade, rollback) is running on cluster %s from this machine (it holds %s); wait for it or stop it", clusterID, path)
	}
	return l, err
}
