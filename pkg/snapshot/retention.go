package snapshot

import (
	"context"
	"fmt"
	"time"
)

// Entry is one snapshot in a store, or the incomplete file of a save that
// did not finish.
type Entry struct {
	// File is the local path (directory stores) or the object's URL.
	File      string     `json:"file"`
	Name      string     `json:"name"`
	Size      int64      `json:"size"`
	Time      time.Time  `json:"time"`
	Sidecar   *Sidecar   `json:"sidecar,omitempty"`
	Verified  *time.Time `json:"verifiedAt,omitempty"`
	Drilled   *time.Time `json:"drilledAt,omitempty"`
	SidecarOK bool       `json:"hasSidecar"`
	// Incomplete is "in progress" for a save still writing, "abandoned"
	// for one a killed process left behind; empty for a snapshot.
	Incomplete string `json:"incomplete,omitempty"`
}

// Listing is the snapshots of a store (snapshot ls).
type Listing []Entry

// Pruning is what prune did or would do with each snapshot.
type Pruning struct {
	DryRun    bool       `json:"dryRun"`
	Decisions []Decision `json:"decisions"`
}

// Policy says which snapshots to keep; a snapshot kept by any rule stays.
type Policy struct {
	KeepLast   int // the newest N
	KeepHourly int // the newest in each of the last H hours that have one
	KeepDaily  int // the newest in each of the last D days that have one
}

// Decision is what prune does with one snapshot.
type Decision struct {
	Entry
	Keep   bool     `json:"keep"`
	Reason []string `json:"reasons"`
}

// Decide applies the policy to entries sorted newest first. Only snapshots
// with a sidecar (etcdpilot's own) are ever pruned.
func Decide(entries []Entry, p Policy) []Decision {
	ds := make([]Decision, len(entries))
	hours, days := map[string]bool{}, map[string]bool{}
	n := 0
	for i, e := range entries {
		d := Decision{Entry: e}
		switch {
		case e.Incomplete == "abandoned":
			d.Reason = []string{"left by a save that did not finish"}
			ds[i] = d
			continue
		case e.Incomplete != "":
			d.Keep, d.Reason = true, []string{"a save is writing it"}
			ds[i] = d
			continue
		}
		if !e.SidecarOK {
			d.Keep, d.Reason = true, []string{"no sidecar: not etcdpilot's, never pruned"}
			ds[i] = d
			continue
		}
		if n < p.KeepLast {
			d.Keep = true
			d.Reason = append(d.Reason, fmt.Sprintf("last %d", p.KeepLast))
		}
		n++
		h := e.Time.UTC().Format("2006-01-02T15")
		if !hours[h] && len(hours) < p.KeepHourly {
			hours[h] = true
			d.Keep = true
			d.Reason = append(d.Reason, "hourly "+h)
		}
		day := e.Time.UTC().Format("2006-01-02")
		if !days[day] && len(days) < p.KeepDaily {
			days[day] = true
			d.Keep = true
			d.Reason = append(d.Reason, "daily "+day)
		}
		ds[i] = d
	}
	return ds
}

// Prune removes the snapshots (and sidecars) the policy does not keep, and
// the files of saves that never finished, unless dryRun. It returns the
// decisions.
func Prune(ctx context.Context, st Store, p Policy, dryRun bool) ([]Decision, error) {
	if p.KeepLast <= 0 && p.KeepHourly <= 0 && p.KeepDaily <= 0 {
		return nil, fmt.Errorf("a policy that keeps nothing would delete every snapshot: give --keep-last, --keep-hourly or --keep-daily")
	}
	entries, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	ds := Decide(entries, p)
	if err := keepLiveChains(ctx, st, ds); err != nil {
		return nil, err
	}
	if dryRun {
		return ds, nil
	}
	for _, d := range ds {
		if d.Keep {
			continue
		}
		var err error
		if a, ok := st.(incompleteAborter); ok && d.Incomplete != "" {
			err = a.AbortIncomplete(ctx, d.Name)
		} else if err = deleteSegments(ctx, st, d.Sidecar); err == nil {
			err = st.Delete(ctx, d.Name)
		}
		if err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// incompleteAborter is a store whose unfinished saves share the name of
// the snapshot they write (S3 multipart uploads): aborting one must not
// touch a finished snapshot of that name.
type incompleteAborter interface {
	AbortIncomplete(ctx context.Context, name string) error
}

// deleteSegments removes the point-in-time segments recorded after a
// snapshot before the snapshot itself: a segment is never kept without
// its base.
func deleteSegments(ctx context.Context, st Store, sc *Sidecar) error {
	objs, ok := st.(Objects)
	if !ok || sc == nil || sc.ClusterID == "" {
		return nil
	}
	names, err := objs.ListObjects(ctx, SegmentsPrefix(sc.ClusterID, sc.Revision))
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := objs.DeleteObject(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// keepLiveChains keeps the base of each cluster's newest point-in-time
// chain, whatever the policy says: a recorder may still be writing its
// segments, and a segment is never kept without its base.
func keepLiveChains(ctx context.Context, st Store, ds []Decision) error {
	objs, ok := st.(Objects)
	if !ok {
		return nil
	}
	names, err := objs.ListObjects(ctx, SegmentsRoot)
	if err != nil {
		return err
	}
	// The live chain is the one whose last segment ends latest.
	type end struct{ base, last int64 }
	live := map[string]end{}
	for _, n := range names {
		cluster, base, _, last, ok := ParseSegmentName(n)
		if e := live[cluster]; ok && last > e.last {
			live[cluster] = end{base: base, last: last}
		}
	}
	for i := range ds {
		d := &ds[i]
		if d.Keep || d.Sidecar == nil {
			continue
		}
		if e, ok := live[d.Sidecar.ClusterID]; ok && e.base == d.Sidecar.Revision {
			d.Keep, d.Reason = true, append(d.Reason, "base of the newest point-in-time chain")
		}
	}
	return nil
}
