package pitr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Segment is one stored segment, as its name tells.
type Segment struct {
	Name        string `json:"name"`
	First, Last int64
}

// Chain is a base snapshot and the segments that follow it without a
// hole: every revision from BaseRevision to Through can be rebuilt.
type Chain struct {
	Cluster      string `json:"cluster"`
	BaseRevision int64  `json:"baseRevision"`
	// Base is the base snapshot's entry; nil when it is not in the store
	// (nothing of the chain can be rebuilt).
	Base     *snapshot.Entry `json:"base,omitempty"`
	Segments []Segment       `json:"segments"`
	Through  int64           `json:"through"`
	// ThroughTime is when the recorder saw Through (the last segment's
	// header; zero until read).
	ThroughTime time.Time `json:"throughTime"`
	// Holes are revisions missing between segments; the segments after
	// the first hole cannot be used (Stranded).
	Holes    []Gap     `json:"holes,omitempty"`
	Stranded []Segment `json:"stranded,omitempty"`
}

// Gap is a range of revisions nothing in the store can rebuild.
type Gap struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Chains lists the chains of a cluster ("" for every cluster) in the
// store, oldest base first, each with its base snapshot found by the
// sidecars' cluster ID and revision. Every full snapshot with a sidecar
// is a chain (perhaps of no segments): a base a recorder may resume from.
func Chains(ctx context.Context, store snapshot.Store, cluster string) ([]*Chain, error) {
	objs, ok := store.(snapshot.Objects)
	if !ok {
		return nil, fmt.Errorf("%s cannot hold point-in-time segments", store)
	}
	prefix := Prefix
	if cluster != "" {
		prefix += cluster + "/"
	}
	names, err := objs.ListObjects(ctx, prefix)
	if err != nil {
		return nil, err
	}
	byBase := map[string]*Chain{}
	var chains []*Chain
	for _, n := range names {
		c, base, first, last, ok := snapshot.ParseSegmentName(n)
		if !ok {
			continue
		}
		key := fmt.Sprintf("%s/%d", c, base)
		ch := byBase[key]
		if ch == nil {
			ch = &Chain{Cluster: c, BaseRevision: base}
			byBase[key] = ch
			chains = append(chains, ch)
		}
		ch.Segments = append(ch.Segments, Segment{Name: n, First: first, Last: last})
	}
	entries, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Sidecar == nil || e.Incomplete != "" || (cluster != "" && e.Sidecar.ClusterID != cluster) {
			continue
		}
		key := fmt.Sprintf("%s/%d", e.Sidecar.ClusterID, e.Sidecar.Revision)
		ch := byBase[key]
		if ch == nil {
			// Every full snapshot is a chain, with or without segments.
			ch = &Chain{Cluster: e.Sidecar.ClusterID, BaseRevision: e.Sidecar.Revision}
			byBase[key] = ch
			chains = append(chains, ch)
		}
		if ch.Base == nil {
			ch.Base = &e
		}
	}
	for _, ch := range chains {
		ch.link()
	}
	sort.SliceStable(chains, func(i, j int) bool { return chains[i].BaseRevision < chains[j].BaseRevision })
	return chains, nil
}

// link orders the segments and finds where the chain breaks.
func (ch *Chain) link() {
	sort.Slice(ch.Segments, func(i, j int) bool { return ch.Segments[i].First < ch.Segments[j].First })
	ch.Through = ch.BaseRevision
	var kept []Segment
	for _, s := range ch.Segments {
		switch {
		case len(ch.Holes) > 0:
			ch.Stranded = append(ch.Stranded, s)
		case s.Last <= ch.Through:
			// covered already (a duplicate)
		case s.First > ch.Through+1:
			ch.Holes = append(ch.Holes, Gap{From: ch.Through + 1, To: s.First - 1})
			ch.Stranded = append(ch.Stranded, s)
		default:
			kept = append(kept, s)
			ch.Through = s.Last
		}
	}
	ch.Segments = kept
}

// ReadLastTime reads the chain's last segment's header for ThroughTime
// (the base's time when it has no segment).
func (ch *Chain) ReadLastTime(ctx context.Context, store snapshot.Store, identity string) error {
	if len(ch.Segments) == 0 {
		if ch.Base != nil {
			ch.ThroughTime = ch.Base.Time
		}
		return nil
	}
	h, _, err := Read(ctx, store, ch.Segments[len(ch.Segments)-1].Name, identity)
	if err != nil {
		return err
	}
	ch.ThroughTime = h.LastSeen
	return nil
}

// Read fetches, decodes and checks one segment.
func Read(ctx context.Context, store snapshot.Store, name, identity string) (*Header, []Revision, error) {
	data, err := store.(snapshot.Objects).GetObject(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", store.Location(name), err)
	}
	raw, err := snapshot.DecodeBytes(data, store.Location(name), identity)
	if err != nil {
		return nil, nil, err
	}
	h, revs, err := Decode(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", store.Location(name), err)
	}
	return h, revs, nil
}

// Gaps are the revisions between chains that nothing rebuilds: after
// a recorded chain's Through and before the next chain's base (between
// plain snapshots nothing was recorded, and nothing is claimed).
func Gaps(chains []*Chain) []Gap {
	var out []Gap
	for i := 1; i < len(chains); i++ {
		prev, cur := chains[i-1], chains[i]
		if prev.Cluster == cur.Cluster && len(prev.Segments) > 0 && cur.BaseRevision > prev.Through+1 {
			out = append(out, Gap{From: prev.Through + 1, To: cur.BaseRevision - 1})
		}
	}
	return out
}

// Pick finds the chain that rebuilds revision rev: the newest base at or
// below it whose chain reaches it.
func Pick(chains []*Chain, rev int64) (*Chain, error) {
	var best *Chain
	var near []string
	for _, ch := range chains {
		if ch.Base == nil {
			near = append(near, fmt.Sprintf("chain from %d has no base snapshot in the store", ch.BaseRevision))
			continue
		}
		if ch.BaseRevision <= rev && rev <= ch.Through && (best == nil || ch.BaseRevision > best.BaseRevision) {
			best = ch
		}
		near = append(near, fmt.Sprintf("%d..%d", ch.BaseRevision, ch.Through))
		for _, h := range ch.Holes {
			near = append(near, fmt.Sprintf("(then segments missing for %d..%d: the %d after them cannot be used)", h.From, h.To, len(ch.Stranded)))
		}
	}
	if best == nil {
		if len(near) == 0 {
			return nil, errors.New("the store holds no point-in-time chain (run a continuous backup first)")
		}
		return nil, fmt.Errorf("revision %d is not restorable from the store; restorable: %s", rev, strings.Join(near, ", "))
	}
	return best, nil
}
