package snapshot

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Identity is which cluster a snapshot was taken of, as far as it can be
// told: the sidecar's cluster ID, else what the backend's members say.
type Identity struct {
	// ClusterID is the sidecar's, or the ID etcd derives from the
	// backend's member IDs (right for a cluster whose membership never
	// changed).
	ClusterID string `json:"clusterID,omitempty"`
	// From says where ClusterID comes from: "sidecar" or "members".
	From    string   `json:"from"`
	Members []string `json:"members,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// IdentityOf reads the identity of a snapshot from its sidecar (when
// given) and its backend's members.
func IdentityOf(info *Info, side *Sidecar) Identity {
	id := Identity{Members: info.Members, Removed: info.Removed}
	if side != nil && side.ClusterID != "" {
		id.ClusterID, id.From = strings.ToLower(side.ClusterID), "sidecar"
		return id
	}
	id.ClusterID, id.From = derivedClusterID(info.Members), "members"
	return id
}

// derivedClusterID is etcd's cluster ID of a cluster bootstrapped with
// these members (membership.RaftCluster.genID: the first 8 bytes of the
// SHA-1 of the sorted member IDs, big-endian).
func derivedClusterID(members []string) string {
	var ids []uint64
	for _, m := range members {
		if v, err := strconv.ParseUint(m, 16, 64); err == nil {
			ids = append(ids, v)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 8*len(ids))
	for i, v := range ids {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	sum := sha1.Sum(b)
	return fmt.Sprintf("%x", binary.BigEndian.Uint64(sum[:8]))
}

// ErrOtherCluster is wrapped by the refusal of a snapshot of another
// cluster.
var ErrOtherCluster = fmt.Errorf("the snapshot is of another cluster")

// SameCluster says whether the snapshot was taken of the cluster with
// this ID and these member IDs (hex): the sidecar's cluster ID decides;
// without a sidecar, the ID derived from the backend's members, else a
// member (present or removed) the two share. A refusal names both IDs
// and says how to go on; otherCluster turns it into nil.
func (id Identity) SameCluster(clusterID string, members []string, otherCluster bool) error {
	clusterID = strings.ToLower(clusterID)
	if clusterID == "" || otherCluster {
		return nil
	}
	if id.ClusterID == clusterID {
		return nil
	}
	if id.From == "members" {
		live := map[string]bool{}
		for _, m := range members {
			live[strings.ToLower(m)] = true
		}
		for _, m := range append(append([]string(nil), id.Members...), id.Removed...) {
			if live[m] {
				return nil
			}
		}
	}
	what := "its sidecar says cluster " + id.ClusterID
	if id.From == "members" {
		what = fmt.Sprintf("it has no sidecar, and its members (%s) are none of this cluster's and derive cluster %s", strings.Join(id.Members, ", "), orUnknown(id.ClusterID))
	}
	return fmt.Errorf("%w: %s, this one is %s: restoring it would replace this cluster's keys with another's, writes since included; give a snapshot of cluster %s, or --other-cluster if replacing it is what you want (a cluster restored from a snapshot has a new ID: going back to a snapshot taken before that restore needs --other-cluster too)", ErrOtherCluster, what, clusterID, clusterID)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
