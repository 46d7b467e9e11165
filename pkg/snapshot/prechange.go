package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// PreChange takes the snapshot a cluster change starts with: saved into
// the store at Dest, then verified (trailer, bbolt, sidecar).
type PreChange struct {
	// Dest is the directory the snapshot goes into.
	Dest string
	// Version is etcdpilot's, recorded in the sidecar.
	Version string
	Stores  Stores
	Log     *slog.Logger
}

// Take saves and verifies the snapshot and returns where it is. hashes
// is the change's hash cache (nil: none): the member's HashKV at the
// snapshot's revision, when the plan hashed it there, is not asked for
// again.
func (p PreChange) Take(ctx context.Context, s *cluster.Session, hashes *status.HashCache) (string, error) {
	sc, file, err := Save(ctx, s, strings.TrimSuffix(p.Dest, "/")+"/", SaveOptions{Version: p.Version, Stores: p.Stores, Verify: true, Hashes: hashes})
	if err != nil {
		return "", err
	}
	// Checked in place before it was published (bbolt's consistency
	// check, its HashKV equal to the member's), or read back here.
	info := sc.Info
	if sc.VerifiedAt == nil {
		r, err := Verify(ctx, file, VerifyOptions{Stores: p.Stores})
		if err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		if !r.OK() {
			return "", fmt.Errorf("%s does not verify: %v", file, r.Problems)
		}
		info = *r.Info
	}
	logging.OrDiscard(p.Log).Info("snapshot {file}: revision {revision}, {keys} keys, verified", "file", file, "revision", info.Revision, "keys", info.KeyCount)
	return file, nil
}

// Exists reports whether the snapshot is still in its store.
func (p PreChange) Exists(ctx context.Context, name string) bool {
	store, n, err := p.Stores.Locate(ctx, name)
	if err != nil {
		return false
	}
	ok, err := store.Exists(ctx, n)
	return ok && err == nil
}
