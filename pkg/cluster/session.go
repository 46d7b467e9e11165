// Package cluster is one command's session with an etcd cluster: the
// clients (one per endpoint, reused for the whole command), and the
// primitives every cluster change is built from, written once: the leader
// hand-off, picking a member, quorum arithmetic, and waiting until the
// cluster is healthy, caught up or on a cluster version.
package cluster

import (
	"context"
	"log/slog"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Session talks to one cluster for the length of a command.
type Session struct {
	pool *conn.Pool
	// Log receives progress (the hand-off's moves); never nil.
	Log *slog.Logger
}

// Open checks the connection settings, reads the TLS files and returns a
// session; clients are dialled when first used. Close it when done.
func Open(cfg conn.Config, log *slog.Logger) (*Session, error) {
	p, err := conn.NewPool(cfg)
	if err != nil {
		return nil, err
	}
	return &Session{pool: p, Log: logging.OrDiscard(log)}, nil
}

// Close closes every client of the session.
func (s *Session) Close() error { return s.pool.Close() }

// Pool is the session's clients.
func (s *Session) Pool() *conn.Pool { return s.pool }

// Config is the session's connection configuration.
func (s *Session) Config() conn.Config { return s.pool.Config() }

// Status collects every member's status without comparing hashes.
func (s *Session) Status(ctx context.Context) (*status.Cluster, error) {
	return status.Collect(ctx, s.pool, status.Options{SkipHash: true})
}

// StatusWithHashes collects every member's status and compares their
// key-value hashes.
func (s *Session) StatusWithHashes(ctx context.Context) (*status.Cluster, error) {
	return status.Collect(ctx, s.pool, status.Options{})
}

// Find returns the member called name (or with that hex ID), or nil.
func Find(cl *status.Cluster, name string) *status.Member {
	for i := range cl.Members {
		if cl.Members[i].Name == name || (name != "" && cl.Members[i].ID == name) {
			return &cl.Members[i]
		}
	}
	return nil
}

// Leader returns the leader, or nil.
func Leader(cl *status.Cluster) *status.Member {
	for i := range cl.Members {
		if cl.Members[i].IsLeader && cl.Members[i].Reachable {
			return &cl.Members[i]
		}
	}
	return nil
}
