package printer

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/recovery"
)

func recoveryPlanView(p *recovery.Plan) *view {
	return &view{layout: func(w io.Writer) error { return recoveryPlanTable(w, p) }}
}

func recoveryPlanTable(w io.Writer, p *recovery.Plan) error {
	id := p.ClusterID
	if id == "" {
		id = "(ID unknown: no member answers)"
	}
	fmt.Fprintf(w, "cluster %s: %d of %d voting members answer (quorum %d)\n\n", id, p.ReachableVoters, p.Voters, p.Quorum)
	rows := [][]string{{"MEMBER", "ID", "ANSWERS", "VERSION", "APPLIED", "REVISION", "DATA", "PROCESS", "DATA REVISION"}}
	for _, m := range p.Members {
		ans, applied, rev := "no", "-", "-"
		if m.Reachable {
			ans, applied, rev = "yes", fmt.Sprint(m.Applied), fmt.Sprint(m.Revision)
		}
		drev := "-"
		if m.DataRevision > 0 {
			drev = fmt.Sprint(m.DataRevision)
		}
		rows = append(rows, []string{m.Name, m.ID, ans, dash(m.Version), applied, rev, m.Data, m.Running, drev})
	}
	if err := Table(w, rows); err != nil {
		return err
	}
	if s := p.Snapshot; s != nil {
		fmt.Fprintf(w, "\nnewest snapshot: %s (revision %d, %s)\n", s.Path, s.Revision, dash(s.Created))
	} else {
		fmt.Fprintln(w, "\nno snapshot of this cluster found (--snapshot-dir, --snapshot)")
	}
	if p.MaxSeen > 0 {
		fmt.Fprintf(w, "most advanced state seen: revision %d (%s)\n", p.MaxSeen, p.MaxSeenAt)
	}
	fmt.Fprintln(w)
	switch p.Method {
	case recovery.NotNeeded:
		fmt.Fprintf(w, "No recovery needed: %s.\n", p.Reason)
	case recovery.FromSurvivor:
		fmt.Fprintf(w, "Recover from the best survivor %s: %s.\nLoses %d revisions against the most advanced state seen.\n", p.Survivor, p.Reason, p.Lost)
	default:
		switch {
		case p.Snapshot != nil && p.OtherCluster:
			fmt.Fprintf(w, "Recover from the snapshot: %s.\nThe snapshot is of another cluster (%s, --other-cluster): every key of this cluster is replaced by its keys; no revision of this cluster is kept.\n", p.Reason, dash(p.Snapshot.ClusterID))
		case p.Snapshot != nil:
			fmt.Fprintf(w, "Recover from the snapshot: %s.\nLoses %d revisions against the most advanced state seen.\n", p.Reason, p.Lost)
		}
	}
	if p.Hint != "" {
		fmt.Fprintf(w, "First: %s.\n", p.Hint)
	}
	if p.Refusal != "" {
		fmt.Fprintf(w, "CANNOT RECOVER: %s\n", p.Refusal)
	}
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	if len(p.Hazards) > 0 {
		fmt.Fprintf(w, "\nKnown bugs of the survivor's release under --force-new-cluster:\n")
		for _, h := range p.Hazards {
			fmt.Fprintf(w, "  %s: %s (fixed in %s) %s\n", h.ID, h.Title, dash(h.FixedIn), h.Link)
		}
	}
	return nil
}

func recoveryReportView(r *recovery.Report) *view {
	return &view{layout: func(w io.Writer) error {
		fmt.Fprintf(w, "Recovery: %s in %s\n", r.State, r.Took.Round(time.Millisecond))
		if r.Error != "" {
			fmt.Fprintf(w, "Error: %s\n", r.Error)
		}
		if r.Plan != nil && r.Plan.Method != "" {
			way := "from the snapshot"
			if r.Plan.Method == recovery.FromSurvivor {
				way = "from survivor " + r.Plan.Survivor
			}
			fmt.Fprintf(w, "Way: %s, %d revisions lost against the most advanced state seen (%d)\n", way, r.Plan.Lost, r.Plan.MaxSeen)
		}
		fmt.Fprintf(w, "Journal: %s\n", r.Journal)
		if cl := r.After; cl != nil {
			var revs []string
			for _, m := range cl.Members {
				revs = append(revs, fmt.Sprintf("%s@%d", dash(m.Name), m.Revision))
			}
			fmt.Fprintf(w, "\nAfter: %s, %d/%d voting members, hashes %s, revisions %s\n", strings.ToUpper(cl.Health), cl.ReachableVoters, cl.Voters, cl.Hash.Result, strings.Join(revs, " "))
		}
		return nil
	}}
}
