// Package engine runs cluster changes — an upgrade, its rollback, and what
// comes later (a downgrade, a rolling defragmentation) — as lists of small
// steps. A step is data: an action and the member and version it touches.
// Every step first looks at the real cluster and is skipped when its
// effect is already there, so that running a change again is harmless;
// every step is journaled with fsync before and after it runs, so that a
// crash is resumed by one recovery path (Recover) whatever the change was;
// and observers (the journal, progress output, tests, metrics) see every
// step start and end.
package engine

import (
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Action is what a step does.
type Action string

// The actions.
const (
	// Snapshot takes and verifies a snapshot before anything changes.
	Snapshot Action = "snapshot"
	// Restart stops Member gracefully (handing leadership off first) and
	// starts it on Version with the same data and configuration.
	Restart Action = "restart"
	// Gates waits until Member runs Version, is healthy and caught up, and
	// every member's key-value hash agrees.
	Gates Action = "gates"
	// HandOff moves leadership off Member to a member on Version.
	HandOff Action = "hand-off"
	// ClusterVersion waits until the cluster version is Version's minor.
	ClusterVersion Action = "cluster-version"
	// DowngradeEnable validates and enables etcd's downgrade to Version's
	// minor (3.6+).
	DowngradeEnable Action = "downgrade-enable"
	// StorageVersion waits until every member's storage version is on
	// Version's minor.
	StorageVersion Action = "storage-version"
	// DowngradeOver waits until no member reports a downgrade enabled.
	DowngradeOver Action = "downgrade-over"
	// DowngradeCancel cancels a downgrade in etcd.
	DowngradeCancel Action = "downgrade-cancel"
	// RaftSnapshot makes Member, on Version, take a raft snapshot so that
	// its WAL replay holds no entry written as a v2 request (etcd 3.7
	// cannot replay them): a restart with --snapshot-count=1, which its
	// next start drops.
	RaftSnapshot Action = "raft-snapshot"
	// Recovery after a lost quorum (disaster.go): Retire stops Member and
	// moves its data aside; ForceNewCluster restarts Member once with
	// --force-new-cluster; Rejoin adds Member back as a learner on Version
	// with fresh data and promotes it; KeepCopy stops Member and keeps a
	// copy of its data directory (before a --force-new-cluster that a
	// known bug of its Version can break); RestoreSnapshot restores every
	// member from the journal's snapshot; Verify waits for a healthy,
	// agreeing cluster.
	Retire          Action = "retire"
	KeepCopy        Action = "keep-copy"
	ForceNewCluster Action = "force-new-cluster"
	Rejoin          Action = "rejoin"
	RestoreSnapshot Action = "restore"
	Verify          Action = "verify"
	// Day-2 (defrag.go): Compact compacts the keyspace once, keeping
	// Env.Defrag.Keep revisions; Defrag defragments Member (on Version,
	// the version it runs) and waits until it is back; Disarm disarms the
	// NOSPACE alarms and checks that a write is accepted.
	Compact Action = "compact"
	Defrag  Action = "defrag"
	Disarm  Action = "disarm"
)

// Step is one piece of a change.
type Step struct {
	Action  Action `json:"action"`
	Member  string `json:"member,omitempty"`
	Version string `json:"version,omitempty"`
	// Rollback marks the steps that undo a change.
	Rollback bool `json:"rollback,omitempty"`
}

// String names the step for people and the journal.
func (s Step) String() string {
	switch s.Action {
	case Snapshot:
		return "snapshot"
	case Restart:
		if s.Rollback {
			return fmt.Sprintf("roll %s back to %s", s.Member, s.Version)
		}
		return fmt.Sprintf("restart %s on %s", s.Member, s.Version)
	case Gates:
		return fmt.Sprintf("gates for %s", s.Member)
	case HandOff:
		return fmt.Sprintf("move leadership off %s", s.Member)
	case ClusterVersion:
		return "cluster version " + version.Minor(s.Version)
	case DowngradeEnable:
		return "enable the downgrade to " + version.Minor(s.Version)
	case StorageVersion:
		return "storage version " + version.Minor(s.Version)
	case DowngradeOver:
		return "downgrade finished"
	case DowngradeCancel:
		return "cancel the downgrade"
	case RaftSnapshot:
		return fmt.Sprintf("raft snapshot of %s on %s", s.Member, s.Version)
	case Retire:
		return fmt.Sprintf("retire %s (data moved aside)", s.Member)
	case KeepCopy:
		return fmt.Sprintf("stop %s and keep a copy of its data directory", s.Member)
	case ForceNewCluster:
		return fmt.Sprintf("restart %s with --force-new-cluster", s.Member)
	case Rejoin:
		return fmt.Sprintf("re-add %s as a learner and promote it", s.Member)
	case RestoreSnapshot:
		return "restore every member from the snapshot"
	case Verify:
		return "verify the recovered cluster"
	case Compact:
		return "compact the keyspace"
	case Defrag:
		return "defragment " + s.Member
	case Disarm:
		return "disarm NOSPACE and check a write"
	}
	return fmt.Sprintf("%s %s %s", s.Action, s.Member, s.Version)
}

// TouchesMember reports whether the step takes a member down.
func (s Step) TouchesMember() bool { return s.Action == Restart || s.Action == RaftSnapshot }
