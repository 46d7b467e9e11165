// Package recovery brings a cluster back after it lost its quorum: from
// its best survivor (the reachable member with the highest applied index,
// restarted once with --force-new-cluster, the others re-added as learners
// with fresh data and promoted), or from a snapshot when no member's data
// can be trusted. The plan says what each way loses, in revisions, against
// the most advanced state ever seen; the apply is journaled and resumed
// like an upgrade.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/walcheck"
)

// Ways to recover.
const (
	FromSurvivor = "survivor"
	FromSnapshot = "snapshot"
	// NotNeeded: the quorum holds; replace the dead members instead.
	NotNeeded = "not-needed"
)

// Member is what is known of one member.
type Member struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	Reachable bool   `json:"reachable"`
	IsLearner bool   `json:"isLearner,omitempty"`
	Version   string `json:"version,omitempty"`
	Applied   uint64 `json:"appliedIndex,omitempty"`
	Revision  int64  `json:"revision,omitempty"`
	// DataDir, Data and Running are what the runtime can tell: where the
	// data is, whether it is there, whether the process runs.
	DataDir string `json:"dataDir,omitempty"`
	Data    string `json:"data"` // present, missing, unknown
	Running string `json:"process"`
	// DataRevision is read from the backend of a member that does not
	// answer; WALIndex is the last index in its WAL.
	DataRevision int64  `json:"dataRevision,omitempty"`
	WALIndex     uint64 `json:"walIndex,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Snapshot is the newest snapshot of the cluster found.
type Snapshot struct {
	Path     string `json:"path"`
	Revision int64  `json:"revision"`
	Created  string `json:"created"`
	// ClusterID is the cluster the snapshot was taken of, when known.
	ClusterID string `json:"clusterID,omitempty"`
}

// Plan is the proposed recovery.
type Plan struct {
	ClusterID       string    `json:"clusterID"`
	Voters          int       `json:"voters"`
	ReachableVoters int       `json:"reachableVoters"`
	Quorum          int       `json:"quorum"`
	Members         []Member  `json:"members"`
	Snapshot        *Snapshot `json:"snapshot,omitempty"`
	// MaxSeen is the highest revision seen anywhere (a member, a stopped
	// member's data, the snapshot), at MaxSeenAt.
	MaxSeen   int64  `json:"maxSeenRevision"`
	MaxSeenAt string `json:"maxSeenAt,omitempty"`
	Method    string `json:"method"`
	Survivor  string `json:"survivor,omitempty"`
	// Lost is how many revisions the chosen way loses against MaxSeen
	// (unknown, -1, when the snapshot is of another cluster).
	Lost int64 `json:"lostRevisions"`
	// OtherCluster: the snapshot was accepted although it is of another
	// cluster (--other-cluster); its revisions say nothing of this one's.
	OtherCluster bool   `json:"otherCluster,omitempty"`
	Reason       string `json:"reason"`
	// Hint names stopped members whose data is still there: starting them
	// may bring the quorum back without losing anything.
	Hint    string   `json:"hint,omitempty"`
	Steps   []string `json:"steps"`
	Refusal string   `json:"refusal,omitempty"`
	// Hazards are the known bugs of the survivor's release that bite
	// under --force-new-cluster; with any, a copy of its data directory
	// is kept first.
	Hazards []Hazard `json:"hazards,omitempty"`
}

// Hazard is a known bug on the way.
type Hazard struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	FixedIn string `json:"fixedIn,omitempty"`
	Link    string `json:"link"`
}

// Options describe what to look at.
type Options struct {
	Session *cluster.Session
	Runtime runtime.Runtime
	// SnapshotDirs are searched for the cluster's newest snapshot.
	SnapshotDirs []string
	// Snapshot forces a recovery from this file.
	Snapshot string
	// Force plans a recovery although the quorum holds.
	Force bool
	// Catalog, when set, names the known bugs of the survivor's release.
	Catalog *catalog.Catalog
	// OtherCluster accepts a Snapshot of another cluster (its keys
	// replace this cluster's).
	OtherCluster bool
}

// MakePlan reads the cluster and proposes a recovery.
func MakePlan(ctx context.Context, o Options) (*Plan, error) {
	cl, err := o.Session.StatusWithHashes(ctx)
	if err != nil {
		// Nobody answers: the runtime may still know the members.
		if cl = fromRuntime(ctx, o.Runtime); cl == nil {
			return nil, err
		}
	}
	p := &Plan{ClusterID: cl.ClusterID, Voters: cl.Voters, ReachableVoters: cl.ReachableVoters, Quorum: cl.Quorum}
	for _, m := range cl.Members {
		pm := Member{Name: m.Name, ID: m.ID, Reachable: m.Reachable, IsLearner: m.IsLearner, Version: m.ServerVersion,
			Applied: m.AppliedIndex, Revision: m.Revision, Data: "unknown", Running: "unknown", Error: m.Error}
		if pm.Name == "" {
			pm.Name = m.ID
		}
		inspect(ctx, o.Runtime, &pm)
		p.Members = append(p.Members, pm)
		p.see(pm.Revision, "member "+pm.Name)
		p.see(pm.DataRevision, "the data of "+pm.Name)
	}
	if o.Snapshot != "" {
		info, err := snapshot.Check(o.Snapshot)
		if err != nil {
			return nil, fmt.Errorf("--snapshot %s: %w; nothing was stopped", o.Snapshot, err)
		}
		side, _ := snapshot.ReadSidecar(o.Snapshot)
		id := snapshot.IdentityOf(info, side)
		var live []string
		for _, m := range cl.Members {
			live = append(live, m.ID)
		}
		if err := id.SameCluster(cl.ClusterID, live, o.OtherCluster); err != nil {
			return nil, fmt.Errorf("--snapshot %s: %w; nothing was stopped", o.Snapshot, err)
		}
		p.Snapshot = &Snapshot{Path: o.Snapshot, Revision: info.Revision, ClusterID: id.ClusterID}
		// Revisions of two clusters are not comparable.
		p.OtherCluster = cl.ClusterID != "" && id.ClusterID != "" && id.ClusterID != cl.ClusterID
	} else {
		p.Snapshot = newestSnapshot(ctx, o.SnapshotDirs, cl.ClusterID)
	}
	if p.Snapshot != nil && !p.OtherCluster {
		p.see(p.Snapshot.Revision, "snapshot "+filepath.Base(p.Snapshot.Path))
	}
	p.decide(o.Snapshot != "", o.Force)
	p.hazards(o.Catalog)
	return p, nil
}

// hazards: the survivor's release and --force-new-cluster. Each known bug
// is named with its fix; with any, the survivor's data directory is
// copied before the restart (the recovery keeps its data, and a broken
// survivor would lose it).
func (p *Plan) hazards(cat *catalog.Catalog) {
	if cat == nil || p.Method != FromSurvivor {
		return
	}
	var v string
	for _, m := range p.Members {
		if m.Name == p.Survivor {
			v = m.Version
		}
	}
	if v == "" {
		return
	}
	for _, is := range cat.IssuesDuring(v, catalog.OpForceNewCluster) {
		p.Hazards = append(p.Hazards, Hazard{ID: is.ID, Title: is.Title, FixedIn: catalog.FixedIn(is.Affected, v), Link: is.Link})
	}
	if len(p.Hazards) == 0 {
		return
	}
	for i, st := range p.Steps {
		if strings.HasPrefix(st, "restart "+p.Survivor+" once with --force-new-cluster") {
			keep := fmt.Sprintf("stop %s and keep a copy of its data directory: etcd %s has %d known bug(s) under --force-new-cluster (listed below)", p.Survivor, v, len(p.Hazards))
			p.Steps = append(p.Steps[:i], append([]string{keep}, p.Steps[i:]...)...)
			break
		}
	}
}

// fromRuntime is the cluster as the runtime knows it when no member
// answers: every member unreachable, the cluster ID unknown.
func fromRuntime(ctx context.Context, rt runtime.Runtime) *status.Cluster {
	l, ok := rt.(runtime.Lister)
	if !ok {
		return nil
	}
	names, err := l.Members(ctx)
	if err != nil || len(names) == 0 {
		return nil
	}
	cl := &status.Cluster{Voters: len(names), Quorum: status.Quorum(len(names)), Health: status.Unavailable}
	for _, n := range names {
		cl.Members = append(cl.Members, status.Member{Name: n, Error: "no answer"})
	}
	return cl
}

func (p *Plan) see(rev int64, where string) {
	if rev > p.MaxSeen {
		p.MaxSeen, p.MaxSeenAt = rev, where
	}
}

// inspect asks the runtime what it knows of a member.
func inspect(ctx context.Context, rt runtime.Runtime, m *Member) {
	if pr, ok := rt.(runtime.ProcessReporter); ok {
		if up, err := pr.Running(ctx, m.Name); err == nil {
			m.Running = map[bool]string{true: "running", false: "gone"}[up]
		}
	}
	dir, ok, _ := runtime.LocalDataDir(ctx, rt, m.Name)
	if !ok {
		return
	}
	m.DataDir = dir
	db := filepath.Join(dir, "member", "snap", "db")
	if _, err := os.Stat(db); err != nil {
		m.Data = "missing"
		return
	}
	m.Data = "present"
	if w, err := walcheck.Check(dir, ""); err == nil {
		m.WALIndex = w.LastIndex
	}
	if m.Reachable {
		return
	}
	// A member that runs without a quorum does not serve clients (it
	// cannot publish itself) and applies nothing: a copy of its backend
	// is consistent.
	path := db
	if m.Running == "running" {
		tmp, err := copyToTemp(db)
		if err != nil {
			return
		}
		defer os.Remove(tmp)
		path = tmp
	}
	if info, err := snapshot.ReadInfo(path, false); err == nil {
		m.DataRevision = info.Revision
	}
}

// copyToTemp copies a file into a temporary file and returns its path.
func copyToTemp(path string) (string, error) {
	f, err := os.CreateTemp("", "etcdpilot-recover-*.db")
	if err != nil {
		return "", err
	}
	f.Close()
	if err := fsutil.CopyFile(path, f.Name(), 0o600, true); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// progress is how far a member got: its applied index when it answers,
// else the last index of its WAL.
func (m *Member) progress() uint64 {
	if m.Applied > m.WALIndex {
		return m.Applied
	}
	return m.WALIndex
}

// revision is the member's revision: what it answers, else what its
// backend holds.
func (m *Member) revision() int64 {
	if m.Reachable {
		return m.Revision
	}
	return m.DataRevision
}

// newestSnapshot is the newest snapshot of the cluster in the directories.
func newestSnapshot(ctx context.Context, dirs []string, clusterID string) *Snapshot {
	var best *Snapshot
	var bestTime string
	for _, d := range dirs {
		entries, err := snapshot.Dir{Path: d}.List(ctx)
		if err != nil {
			continue
		}
		for _, e := range entries {
			// With no member answering, the cluster ID is unknown: every
			// snapshot found is a candidate (the plan names the file).
			if !e.SidecarOK || (clusterID != "" && e.Sidecar.ClusterID != clusterID) || e.Incomplete != "" {
				continue
			}
			t := e.Time.UTC().Format("2006-01-02T15:04:05Z")
			if best == nil || t > bestTime {
				best, bestTime = &Snapshot{Path: e.File, Revision: e.Sidecar.Revision, Created: t}, t
			}
		}
	}
	return best
}

// ErrNoWay: no member survives and no snapshot was found.
var ErrNoWay = errors.New("no member survives and no snapshot of the cluster was found")

// decide picks the way: none while the quorum holds; the best survivor
// (highest applied index) unless forced to the snapshot; the snapshot when
// nobody survives.
func (p *Plan) decide(forceSnapshot, force bool) {
	if p.ReachableVoters >= p.Quorum && p.Voters > 0 && !force {
		p.Method = NotNeeded
		p.Reason = fmt.Sprintf("%d of %d voting members answer: the quorum (%d) holds, the cluster is not lost", p.ReachableVoters, p.Voters, p.Quorum)
		for _, m := range p.Members {
			if !m.Reachable {
				p.Steps = append(p.Steps, fmt.Sprintf("replace the dead member %s: etcdpilot member replace %s", m.Name, m.Name))
			}
		}
		return
	}
	// Survivors: voting members that answer, and those that run without
	// answering (a member restarted without a quorum cannot serve
	// clients). A member whose process is gone is dead: starting it again
	// is the hint, not a recovery.
	var best *Member
	for i := range p.Members {
		m := &p.Members[i]
		if m.IsLearner || !(m.Reachable || (m.Running == "running" && m.Data == "present" && m.progress() > 0)) {
			continue
		}
		if best == nil || m.progress() > best.progress() || (m.progress() == best.progress() && m.revision() > best.revision()) {
			best = m
		}
	}
	switch {
	case best != nil && !forceSnapshot:
		p.Method, p.Survivor, p.Lost = FromSurvivor, best.Name, p.MaxSeen-best.revision()
		p.Reason = fmt.Sprintf("%s answers with the highest applied index (%d) of the members whose data can be used; its data is kept", best.Name, best.progress())
		if !best.Reachable {
			p.Reason = fmt.Sprintf("%s does not answer (a member restarted without a quorum cannot serve clients), but its data is the most advanced (its WAL reaches index %d); its data is kept", best.Name, best.progress())
		}
		if best.Data == "missing" {
			p.Refusal = fmt.Sprintf("the survivor %s has no data directory at %s: it cannot be restarted on its data; recover from a snapshot (recover apply --snapshot FILE)", best.Name, best.DataDir)
		}
		p.Steps = append(p.Steps, "stop every other member and move its data directory aside (never deleted)")
		p.Steps = append(p.Steps, fmt.Sprintf("restart %s once with --force-new-cluster (a one-member cluster on its data), then without it", best.Name))
		for _, m := range p.Members {
			if m.Name != best.Name {
				p.Steps = append(p.Steps, fmt.Sprintf("re-add %s as a learner with a fresh data directory, start it, promote it once it has caught up", m.Name))
			}
		}
	case p.Snapshot != nil:
		p.Method, p.Lost = FromSnapshot, p.MaxSeen-p.Snapshot.Revision
		if p.OtherCluster {
			p.Lost = -1
		}
		p.Reason = "no reachable voting member's data can be used"
		if forceSnapshot {
			p.Reason = "a recovery from the given snapshot was asked for"
		}
		p.Steps = append(p.Steps, fmt.Sprintf("verify %s, stop every member, restore every member's data directory from it (a new cluster ID), start them", p.Snapshot.Path))
	default:
		p.Method = FromSnapshot
		p.Refusal = ErrNoWay.Error() + ": give one with --snapshot FILE"
	}
	var stopped []string
	for _, m := range p.Members {
		if !m.Reachable && m.Data == "present" && m.Running == "gone" {
			stopped = append(stopped, m.Name)
		}
	}
	if len(stopped) > 0 {
		p.Hint = fmt.Sprintf("the data of %s is still there and its process is gone: start it first (sandbox proc start, systemctl start etcd); if that brings the quorum back, nothing is lost and no recovery is needed", strings.Join(stopped, ", "))
	}
	if p.Refusal == "" {
		p.Steps = append(p.Steps, "check: every member healthy, their hashes agree, every member on the same revision")
	}
}
