package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

const walLink = "https://github.com/etcd-io/etcd/issues/21263"

// Codes of the WAL hazard findings.
const (
	// CodeV2WAL blocks a hop into 3.7 while members would replay entries
	// written by 3.5; a runtime that owns the members' flags clears it.
	CodeV2WAL = "v2-wal-entries"
	// CodeV2WALUnknown warns when nobody could read the members' WALs.
	CodeV2WALUnknown = "v2-wal-unknown"
)

// CodeV2Custom blocks a hop into 3.6 while a member's WAL holds v2
// writes of custom data; CodeV2CustomUnknown warns when some members'
// WALs could not be read for it.
const (
	CodeV2Custom        = "v2-custom-data"
	CodeV2CustomUnknown = "v2-custom-unknown"
)

// v2Custom: etcd 3.6 refuses to start on custom v2 data ("detected
// disallowed custom content in v2store", and for the WAL "detected
// disallowed v2 WAL for stage --v2-deprecation=write-only"); 3.5.32's
// etcdutl check v2store reads the WAL's records too (#21889).
func (pl *planner) v2Custom() {
	if pl.p.Direction != "upgrade" || !crosses(pl.low, pl.p.Target, "3.6") {
		return
	}
	var found, unread []string
	for name, n := range pl.opts.V2Custom {
		if n > 0 {
			found = append(found, fmt.Sprintf("%s (%d)", name, n))
		}
	}
	for _, m := range pl.cl.Members {
		if _, read := pl.opts.V2Custom[m.Name]; !read && m.Name != "" && version.Minor(m.Version) == "3.5" {
			unread = append(unread, m.Name)
		}
	}
	if len(unread) > 0 {
		pl.warn(Finding{Code: CodeV2CustomUnknown, Message: fmt.Sprintf("etcdpilot could not read the WALs of %s: if they hold v2 writes of custom data (keys outside etcd's own membership records), etcd 3.6 refuses to start on them", strings.Join(unread, ", ")),
			Reason: "run etcdpilot wal check --data-dir DIR on each member's host (safe while it runs), or etcdutl check v2store (3.5.32 or later reads the WAL's records too); clusters written only through the v3 API (Kubernetes) have none",
			Link:   "https://github.com/etcd-io/etcd/pull/21889"})
	}
	if len(found) == 0 {
		return
	}
	sort.Strings(found)
	pl.block(Finding{Code: CodeV2Custom, Message: fmt.Sprintf("the WALs of %s hold v2 writes of custom data (keys outside etcd's own membership records): etcd 3.6 refuses to start on them", strings.Join(found, ", ")),
		Reason: "stop writing through the v2 API, then make each member take a raft snapshot (restart it once with --snapshot-count=1, then the original value) and check its data with etcdutl check v2store (3.5.32 or later reads the WAL's records too); migrate v2 data you need to v3 first",
		Link:   "https://github.com/etcd-io/etcd/pull/21889"})
}

// walHazard: etcd 3.7 removed the v2 request type from the WAL and panics
// on replaying an entry 3.5 wrote ("unmarshal should never fail"). Such
// entries stay in a 3.6 member's replay until it takes a raft snapshot
// (every --snapshot-count entries, 10,000 by default). Before a hop into
// 3.7, every member must have taken one since it stopped running 3.5.
func (pl *planner) walHazard() {
	into37, through36 := false, false
	for _, s := range pl.p.Path {
		if s.Kind != "minor" {
			continue
		}
		if version.Minor(s.To) == "3.7" {
			into37 = true
		}
		if version.Minor(s.To) == "3.6" {
			through36 = true
		}
	}
	if !into37 {
		return
	}
	remedy := "every member must take a raft snapshot on 3.6 before it starts on 3.7: etcdpilot upgrade apply does it where it owns the members' flags and can read their data (a restart with --snapshot-count=1, then the original value); by hand, restart each member once with --snapshot-count=1, check with etcdpilot wal check --data-dir DIR on its host until it reports no v2 entries, and restore the value"
	var known []string
	for name, n := range pl.opts.V2WAL {
		if n > 0 {
			known = append(known, fmt.Sprintf("%s (%d)", name, n))
		}
	}
	sort.Strings(known)
	switch {
	case len(known) > 0:
		pl.block(Finding{Code: CodeV2WAL, Message: fmt.Sprintf("the WALs of %s hold entries written as v2 requests (by etcd 3.5) after their newest raft snapshot: etcd 3.7 cannot replay them and panics on start", strings.Join(known, ", ")),
			Reason: remedy, Link: walLink})
	case through36:
		pl.block(Finding{Code: CodeV2WAL, Message: "the path goes from 3.5 through 3.6 to 3.7 in one run: the entries 3.5 wrote (cluster version, member attributes) will still be in every member's WAL replay when it starts on 3.7, which panics on them",
			Reason: remedy, Link: walLink})
	case len(pl.opts.V2WAL) < len(pl.cl.Members):
		pl.warn(Finding{Code: CodeV2WALUnknown, Message: "etcdpilot could not read the members' WALs: if the cluster ran 3.5 within the last --snapshot-count entries (10,000 by default), a member starting on 3.7 panics replaying what 3.5 wrote",
			Reason: "run etcdpilot wal check --data-dir DIR on each member's host (safe while it runs); " + remedy, Link: walLink})
	}
}
