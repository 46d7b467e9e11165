package printer

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

func saveView(r *snapshot.SaveResult) *view {
	sc := r.Sidecar
	rate := ""
	if s := r.Took.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %s/s", progress.Bytes(int64(float64(sc.Size)/s)))
	}
	return lines(fmt.Sprintf("saved %s: %s from %s (etcd %s), revision %d, %d keys, sha256 %s%s",
		r.Path, progress.Bytes(sc.Size), sc.Member, sc.EtcdVersion, sc.Revision, sc.KeyCount, sc.SHA256[:16], rate))
}

func verifyView(r *snapshot.Report) *view {
	i := r.Info
	vw := lines(fmt.Sprintf("%s: %s, revision %d (compacted at %d), %d keys, HashKV %d, sha256 %s", r.File, progress.Bytes(i.Size), i.Revision, i.CompactRevision, i.KeyCount, i.HashKV, i.SHA256),
		"  trailer: ok; bbolt consistency check: ok")
	if r.Sidecar {
		vw.head = append(vw.head, "  sidecar: compared")
	} else {
		vw.head = append(vw.head, "  sidecar: none (nothing to compare with)")
	}
	if r.Drill != nil {
		vw.head = append(vw.head, fmt.Sprintf("  restore drill on etcd %s: %s", r.Drill.EtcdVersion, r.Drill.Took))
	}
	for _, p := range r.Problems {
		vw.head = append(vw.head, "  MISMATCH: "+p)
	}
	if r.OK() {
		vw.head = append(vw.head, "verified")
	}
	return vw
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func snapshotListView(l snapshot.Listing) *view {
	vw := &view{cols: []string{"FILE", "TIME", "SIZE", "ETCD", "REVISION", "KEYS", "VERIFIED", "DRILLED"}}
	for _, e := range l {
		etcd, rev, keys := "-", "-", "-"
		if sc := e.Sidecar; sc != nil {
			etcd, rev, keys = sc.EtcdVersion, fmt.Sprint(sc.Revision), fmt.Sprint(sc.KeyCount)
		}
		verified, drilled := when(e.Verified), when(e.Drilled)
		if e.Incomplete != "" {
			verified, drilled = "INCOMPLETE: "+e.Incomplete, "-"
		}
		vw.rows = append(vw.rows, []string{e.File, e.Time.Format(time.RFC3339), progress.Bytes(e.Size), etcd, rev, keys, verified, drilled})
	}
	return vw
}

func pruneView(p *snapshot.Pruning) *view {
	vw := &view{cols: []string{"FILE", "TIME", "ACTION", "WHY"}}
	for _, d := range p.Decisions {
		action := "keep"
		if !d.Keep {
			action = "delete"
			if p.DryRun {
				action = "would delete"
			}
		}
		vw.rows = append(vw.rows, []string{d.File, d.Time.Format(time.RFC3339), action, dash(strings.Join(d.Reason, ", "))})
	}
	return vw
}

func restoreView(r *snapshot.RestoreResult) *view {
	vw := &view{}
	for _, c := range r.Compared {
		hash := fmt.Sprintf(", HashKV %d", c.HashKV)
		if c.HashKV == 0 {
			hash = "" // a bumped restore: its keys are counted, there is no common revision to hash
		}
		vw.head = append(vw.head, fmt.Sprintf("%s: revision %d, %d keys%s: matches the snapshot", c.Member, c.Revision, c.KeyCount, hash))
	}
	if r.Sandbox != "" {
		vw.head = append(vw.head, fmt.Sprintf("sandbox %s restored from %s", r.Sandbox, r.File))
		return vw
	}
	for _, t := range r.Targets {
		where := t.DataDir
		if t.Host != "" {
			where = t.Host + ":" + t.DataDir
		}
		vw.head = append(vw.head, fmt.Sprintf("restored %s into %s", t.Name, where))
	}
	if len(r.Compared) > 0 {
		return vw // restored through a runtime, started and compared
	}
	vw.head = append(vw.head, fmt.Sprintf("start each member with --initial-cluster %s --initial-cluster-token %s --initial-cluster-state new", r.InitialCluster, r.Token))
	return vw
}
