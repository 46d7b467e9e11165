package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// LockPrefix is where a recorder holds its store in the cluster it
// records: one key per store, under a lease, so that two recorders of one
// cluster never write one store's chain.
const LockPrefix = "/etcdpilot/pitr/"

// lockTTL is the lock's lease: a recorder killed frees the store after it.
const lockTTL = 15

// ErrRecorded means another recorder holds the store.
var ErrRecorded = errors.New("another recorder writes this store's chain")

// lockStore takes the store's lock, or says who holds it. The lock ends
// at release, or when its lease is lost (lost closes). A user
// that may not write the key records without it (warned).
func (f *Follow) lockStore(ctx context.Context, cli *clientv3.Client) (lost <-chan struct{}, release func(), err error) {
	sum := sha256.Sum256([]byte(f.Store.String()))
	key := LockPrefix + hex.EncodeToString(sum[:8])
	// The session outlives ctx: its release revokes the lease at once
	// (a session of a cancelled context could not, and the store would
	// stay locked for the lease's TTL).
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(lockTTL), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		if denied(err) {
			f.Log.Warn("the user may not hold a lock in the cluster; recording without one", "key", key, "err", err)
			return nil, func() {}, nil
		}
		return nil, nil, err
	}
	m := concurrency.NewMutex(s, key)
	if err := m.TryLock(ctx); err != nil {
		s.Close()
		if errors.Is(err, concurrency.ErrLocked) {
			holder := ""
			if resp, gerr := cli.Get(ctx, key, clientv3.WithFirstCreate()...); gerr == nil && len(resp.Kvs) > 0 {
				holder = string(resp.Kvs[0].Value)
			}
			return nil, nil, fmt.Errorf("%w: %s (held by %s in the cluster's %s; it frees %d s after its recorder stops)", ErrRecorded, f.Store, holder, key, lockTTL)
		}
		if denied(err) {
			f.Log.Warn("the user may not hold a lock in the cluster; recording without one", "key", key, "err", err)
			return nil, func() {}, nil
		}
		return nil, nil, err
	}
	// The lock's value names its holder for the message above.
	host, _ := os.Hostname()
	cli.Put(ctx, m.Key(), fmt.Sprintf("%s/%d", host, os.Getpid()), clientv3.WithLease(s.Lease()))
	return s.Done(), func() { s.Close() }, nil
}

func denied(err error) bool {
	return errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied)
}
