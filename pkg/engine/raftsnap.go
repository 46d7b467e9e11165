package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

// SnapshotCountFlag makes a member take a raft snapshot as soon as it has
// applied its WAL: etcd's documented workaround for v2 data.
const SnapshotCountFlag = "--snapshot-count=1"

// V2Entries reads the member's WAL replay through the runtime: how many
// entries written as v2 requests it holds (ok false when the runtime
// cannot read the member's data directory).
func V2Entries(ctx context.Context, rt runtime.Runtime, member string) (n int, ok bool, err error) {
	r, err := ReadWAL(ctx, rt, member)
	if r == nil || err != nil {
		return 0, false, err
	}
	return r.V2, true, nil
}

// ReadWAL checks the member's WAL where the runtime can reach its data
// directory; (nil, nil) where it cannot.
func ReadWAL(ctx context.Context, rt runtime.Runtime, member string) (*walcheck.Result, error) {
	dir, ok, err := runtime.LocalDataDir(ctx, rt, member)
	if !ok {
		return nil, err
	}
	return walcheck.Check(dir, "")
}

// CanTakeRaftSnapshots says whether the runtime can make members take a
// raft snapshot and check that they did.
// The members' WALs must be on this machine: a runtime that reaches a
// member over SSH names a path on the member's node.
func CanTakeRaftSnapshots(rt runtime.Runtime, members ...string) bool {
	_, o := rt.(runtime.FlagOverrider)
	_, d := rt.(runtime.DataDirs)
	for _, m := range members {
		d = d && runtime.Local(rt, m)
	}
	return o && d
}

// walClean: the member's WAL replay holds no v2 entry.
func walClean(ctx context.Context, e *Env, s Step) (bool, error) {
	n, ok, err := V2Entries(ctx, e.Runtime, s.Member)
	return ok && n == 0, err
}

// raftSnapshotRun restarts the member on its version with
// --snapshot-count=1 (handing leadership off first), waits at its gates,
// and then until its WAL replay holds no v2 entry.
func raftSnapshotRun(ctx context.Context, e *Env, s Step) error {
	o, ok := e.Runtime.(runtime.FlagOverrider)
	if !ok || !CanTakeRaftSnapshots(e.Runtime, s.Member) {
		return errors.New("this runtime cannot start a member with --snapshot-count=1 and read its WAL; do it by hand (see etcdpilot wal check)")
	}
	if err := e.readyToStop(ctx, s.Member, s.Version); err != nil {
		return err
	}
	if err := e.Runtime.Stop(ctx, s.Member); err != nil {
		return fmt.Errorf("stop %s: %w", s.Member, err)
	}
	if err := o.StartWithFlags(ctx, s.Member, runtime.StartOptions{Version: s.Version}, []string{SnapshotCountFlag}); err != nil {
		return err
	}
	if err := e.WaitGates(ctx, Gate{Member: s.Member, Version: s.Version}); err != nil {
		return err
	}
	var n int
	err := poll.Until(ctx, 100*time.Millisecond, e.GateTimeout, func(ctx context.Context) (bool, error) {
		var rerr error
		var read bool
		n, read, rerr = V2Entries(ctx, e.Runtime, s.Member)
		return rerr == nil && read && n == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s took no raft snapshot past its %d v2 entries within %s: %w", s.Member, n, e.GateTimeout, err)
	}
	return nil
}
