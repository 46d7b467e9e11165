// Package pitr keeps an etcd cluster's history between full snapshots
// and rebuilds the cluster at any revision of it: a recorder watches the
// whole key space from a base snapshot's revision and writes what it sees
// to the snapshot store as delta segments; a replay applies a base and its
// segments with etcd's own storage libraries, one transaction per original
// revision, into a snapshot file at the revision asked for; a proof
// compares its HashKV with the source cluster's.
package pitr

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Revision is one revision of the cluster: the events of one transaction,
// in their order, and when the recorder saw them.
type Revision struct {
	Rev    int64
	Seen   time.Time
	Events []*mvccpb.Event
}

// Header describes a segment; it is stored at its start.
type Header struct {
	Cluster string `json:"cluster"`
	// Base is the full snapshot the chain starts from, BaseRevision its
	// revision.
	Base         string `json:"base"`
	BaseRevision int64  `json:"baseRevision"`
	// First and Last bound the revisions the segment covers: every
	// revision of the cluster in [First, Last] is in it.
	First     int64     `json:"first"`
	Last      int64     `json:"last"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Revisions int       `json:"revisions"`
	Events    int       `json:"events"`
	// Leases are the TTLs (seconds) of the leases the segment's keys are
	// the first to name since the base (0: gone before it could be asked).
	Leases map[string]int64 `json:"leases,omitempty"`
	// BodySHA256 is the SHA-256 of what follows the header.
	BodySHA256 string    `json:"bodySHA256"`
	Created    time.Time `json:"created"`
}

const magic = "etcdpilot-pitr-segment v1\n"

// Prefix is where a store keeps the segments (see snapshot.SegmentName).
const Prefix = snapshot.SegmentsRoot

// Name is a segment's object name: ordered by revision as text.
func (h *Header) Name() string {
	return snapshot.SegmentName(h.Cluster, h.BaseRevision, h.First, h.Last)
}

// Encode lays a segment out: magic, the header as one JSON line, then per
// revision its number, the time it was seen (Unix ns), its event count and
// each event as a length-prefixed mvccpb.Event.
func Encode(h Header, revs []Revision) ([]byte, error) {
	var body []byte
	h.Events = 0
	for _, r := range revs {
		body = binary.AppendUvarint(body, uint64(r.Rev))
		body = binary.AppendVarint(body, r.Seen.UnixNano())
		body = binary.AppendUvarint(body, uint64(len(r.Events)))
		for _, ev := range r.Events {
			b, err := ev.Marshal()
			if err != nil {
				return nil, err
			}
			body = binary.AppendUvarint(body, uint64(len(b)))
			body = append(body, b...)
		}
		h.Events += len(r.Events)
	}
	sum := sha256.Sum256(body)
	h.BodySHA256, h.Revisions = hex.EncodeToString(sum[:]), len(revs)
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(magic)+len(hb)+1+len(body))
	out = append(append(append(append(out, magic...), hb...), '\n'), body...)
	return out, nil
}

// Decode reads a segment back, checking its body against the header's
// SHA-256 and its revisions against the header's range.
func Decode(data []byte) (*Header, []Revision, error) {
	rest, ok := bytes.CutPrefix(data, []byte(magic))
	if !ok {
		return nil, nil, errors.New("not an etcdpilot segment")
	}
	line, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return nil, nil, errors.New("truncated header")
	}
	var h Header
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != h.BodySHA256 {
		return &h, nil, fmt.Errorf("body SHA-256 %x, header says %s (truncated or corrupt)", sum, h.BodySHA256)
	}
	revs := make([]Revision, 0, h.Revisions)
	for len(body) > 0 {
		var r Revision
		var n int
		var err error
		var v uint64
		if v, body, err = uvarint(body); err != nil {
			return &h, nil, err
		}
		r.Rev = int64(v)
		ns, k := binary.Varint(body)
		if k <= 0 {
			return &h, nil, errors.New("bad time")
		}
		body, r.Seen = body[k:], time.Unix(0, ns).UTC()
		if v, body, err = uvarint(body); err != nil {
			return &h, nil, err
		}
		n = int(v)
		for range n {
			if v, body, err = uvarint(body); err != nil || v > uint64(len(body)) {
				return &h, nil, errors.New("bad event length")
			}
			ev := &mvccpb.Event{}
			if err := ev.Unmarshal(body[:v]); err != nil {
				return &h, nil, fmt.Errorf("event: %w", err)
			}
			body = body[v:]
			r.Events = append(r.Events, ev)
		}
		revs = append(revs, r)
	}
	if len(revs) != h.Revisions || (len(revs) > 0 && (revs[0].Rev < h.First || revs[len(revs)-1].Rev > h.Last)) {
		return &h, nil, fmt.Errorf("%d revisions in %d..%d, header says %d in %d..%d", len(revs), first(revs), lastRev(revs), h.Revisions, h.First, h.Last)
	}
	return &h, revs, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, errors.New("bad varint")
	}
	return v, b[k:], nil
}

func first(revs []Revision) int64 {
	if len(revs) == 0 {
		return 0
	}
	return revs[0].Rev
}

func lastRev(revs []Revision) int64 {
	if len(revs) == 0 {
		return 0
	}
	return revs[len(revs)-1].Rev
}
