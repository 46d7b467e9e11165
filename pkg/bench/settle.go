package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// settleWrites is how many small writes move the fill's large entries
// out of each member's in-memory raft log: etcd keeps the entries since
// its last raft snapshot (and 5,000 before it until it restarts: 3.5's
// catch-up entries), and snapshots every --snapshot-count (the bench's
// 10,000) entries.
const settleWrites = 10_000 + 5_000 + 1_000

// settle leaves the filled members' memory as a Kubernetes cluster's is
// between its writes. The fill's 100 KiB entries are the newest in each
// member's raft log, which etcd keeps in memory: 2.7 GiB of heap per
// member at 4 GiB, three members on one host, where Kubernetes' writes
// (leases, status) are mostly small. It writes settleWrites small
// entries (Kubernetes-sized leases), so that a raft snapshot passes the
// fill's, then restarts the members one at a time, each until the
// cluster is healthy, so that their heaps hold only what they now need
// (Go returns freed memory to the system only over minutes).
func settle(ctx context.Context, sb *sandbox.Sandbox, st *sandbox.State, log *slog.Logger) error {
	if err := Load(ctx, st.Conn(), LoadOptions{Keys: settleWrites, ValueSize: 100, Prefix: "/registry/leases/bench/"}, io.Discard); err != nil {
		return fmt.Errorf("small writes: %w", err)
	}
	for _, m := range st.Members {
		if err := sb.Stop(ctx, m.Name); err != nil {
			return err
		}
		if err := sb.Start(ctx, m.Name, runtime.StartOptions{Version: m.Version}); err != nil {
			return err
		}
		if err := sb.WaitHealthy(ctx); err != nil {
			return fmt.Errorf("after %s's restart: %w", m.Name, err)
		}
	}
	now, err := sb.State()
	if err != nil {
		return err
	}
	for _, m := range now.Members {
		_, anon := memory(m.Process.PID)
		log.Info("{member} settled: {anon} of anonymous memory", "member", m.Name, "anon", progress.Bytes(anon))
	}
	return nil
}

// warmDatabases reads back into the page cache whatever part of each
// member's database is not there (a command before may have pushed it
// out: the bench holds every member and the snapshots on one host), as a
// member's own host keeps it, and reports the least resident share found
// after, 0 to 1.
func warmDatabases(st *sandbox.State, log *slog.Logger) (float64, error) {
	least := 1.0
	for _, m := range st.Members {
		path := filepath.Join(m.DataDir, "member", "snap", "db")
		share, err := fsutil.Resident(path)
		if err != nil {
			return 0, err
		}
		if share < 1 {
			log.Debug("{member}'s database was {share} in the page cache: read back", "member", m.Name, "share", fmt.Sprintf("%.1f%%", 100*share))
			if err := readAll(path); err != nil {
				return 0, err
			}
			if share, err = fsutil.Resident(path); err != nil {
				return 0, err
			}
		}
		least = min(least, share)
	}
	return least, nil
}

// readAll reads the file through once.
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	return err
}
