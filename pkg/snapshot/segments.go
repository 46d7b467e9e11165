package snapshot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Point-in-time segments (package pitr) live in a store beside the base
// snapshots they follow, named so that they sort by revision as text:
// SegmentsRoot/CLUSTER/BASE-REVISION/FIRST-LAST.seg[.zst][.age], each
// number zero-padded to 20 digits. Prune reads these names to keep a
// chain's base and to delete its segments with it.

// SegmentsRoot is the name prefix of every segment.
const SegmentsRoot = "pitr/"

// SegmentsPrefix is where the segments recorded after a base snapshot
// (cluster, revision) are kept.
func SegmentsPrefix(cluster string, rev int64) string {
	return fmt.Sprintf("%s%s/%020d/", SegmentsRoot, cluster, rev)
}

// SegmentName is the name of a segment without its encoding suffix.
func SegmentName(cluster string, base, first, last int64) string {
	return fmt.Sprintf("%s%020d-%020d.seg", SegmentsPrefix(cluster, base), first, last)
}

// ParseSegmentName reads cluster, base revision and range from a
// segment's name (with any encoding suffix).
func ParseSegmentName(name string) (cluster string, base, first, last int64, ok bool) {
	rest, found := strings.CutPrefix(name, SegmentsRoot)
	if !found {
		return
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return
	}
	file, _, _ := strings.Cut(parts[2], ".")
	a, b, found := strings.Cut(file, "-")
	var err1, err2, err3 error
	base, err1 = strconv.ParseInt(parts[1], 10, 64)
	first, err2 = strconv.ParseInt(a, 10, 64)
	last, err3 = strconv.ParseInt(b, 10, 64)
	if !found || errors.Join(err1, err2, err3) != nil || first > last || first <= base {
		return
	}
	return parts[0], base, first, last, strings.Contains(parts[2], ".seg")
}
