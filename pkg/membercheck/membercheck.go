// Package membercheck compares the two records of an etcd 3.5 cluster's
// membership: the member list, which 3.5 serves from its v2store, and the
// "members" and "members_removed" buckets of each member's backend (the
// v3store), which etcd 3.6 reads instead. Where they disagree, an upgrade
// to 3.6 turns voters back into learners ("too many learner members",
// etcd-io/etcd#19557: promotions on 3.5.1–3.5.19 reached the v2store only)
// or brings removed members back (zombie members, etcd-io/etcd#20967).
package membercheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Member is a member as a backend records it.
type Member struct {
	ID        uint64   `json:"id"`
	PeerURLs  []string `json:"peerURLs"`
	Name      string   `json:"name,omitempty"`
	IsLearner bool     `json:"isLearner,omitempty"`
}

// Backend is what one member's backend says of the membership.
type Backend struct {
	Members map[uint64]Member
	Removed map[uint64]bool
}

// Read opens a backend file (a snapshot, or a stopped member's
// member/snap/db) read-only.
func Read(path string) (*Backend, error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open backend %s: %w", path, err)
	}
	defer db.Close()
	b := &Backend{Members: map[uint64]Member{}, Removed: map[uint64]bool{}}
	err = db.View(func(tx *bolt.Tx) error {
		if mb := tx.Bucket([]byte("members")); mb != nil {
			if err := mb.ForEach(b.addMember); err != nil {
				return err
			}
		}
		if rb := tx.Bucket([]byte("members_removed")); rb != nil {
			return rb.ForEach(func(k, _ []byte) error { return b.addRemoved(k) })
		}
		return nil
	})
	return b, err
}

func (b *Backend) addMember(k, v []byte) error {
	var m Member
	if err := json.Unmarshal(v, &m); err != nil {
		return fmt.Errorf("members/%s: %w", k, err)
	}
	b.Members[m.ID] = m
	return nil
}

func (b *Backend) addRemoved(k []byte) error {
	id, err := strconv.ParseUint(string(k), 16, 64)
	if err != nil {
		return fmt.Errorf("members_removed/%s: %w", k, err)
	}
	b.Removed[id] = true
	return nil
}

// FromMember streams the member's backend (Maintenance.Snapshot) into a
// temporary file under dir, reads it and removes the file.
func FromMember(ctx context.Context, c *clientv3.Client, dir string) (*Backend, error) {
	rc, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "etcdpilot-membercheck-*.db")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return nil, fmt.Errorf("stream the backend: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	// The stream ends with a 32-byte SHA-256 of the content; bbolt reads
	// the pages it needs and does not mind it.
	return Read(f.Name())
}

// Listed is a member as the member list shows it.
type Listed struct {
	ID        uint64
	Name      string
	IsLearner bool
}

// ListedOf is the member list as Compare takes it.
func ListedOf(ml *clientv3.MemberListResponse) []Listed {
	var list []Listed
	for _, m := range ml.Members {
		list = append(list, Listed{ID: m.ID, Name: m.Name, IsLearner: m.IsLearner})
	}
	return list
}

// Kinds of disagreement.
const (
	// Learner: a voter in the member list that a backend records as a
	// learner.
	Learner = "learner"
	// Zombie: a member a backend still holds that the member list no
	// longer has.
	Zombie = "zombie"
	// Missing: a listed member a backend does not hold.
	Missing = "missing"
	// Unread: a member whose backend could not be read; the check is
	// incomplete.
	Unread = "unread"
)

// Finding is one disagreement, with the members whose backends show it.
type Finding struct {
	Kind   string   `json:"kind"`
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	SeenIn []string `json:"seenIn"`
	// Error says why an Unread member's backend could not be read.
	Error string `json:"error,omitempty"`
}

// NotRead is the finding for a member whose backend could not be read.
func NotRead(name, id, why string) Finding {
	return Finding{Kind: Unread, ID: id, Name: name, SeenIn: []string{name}, Error: why}
}

// Message describes the finding and what an upgrade to 3.6 would do.
func (f Finding) Message() string {
	who := f.ID
	if f.Name != "" {
		who = f.Name + " (" + f.ID + ")"
	}
	in := strings.Join(f.SeenIn, ", ")
	switch f.Kind {
	case Learner:
		return fmt.Sprintf("%s is a voter in the member list but a learner in the backends of %s: promotions on 3.5.1-3.5.19 reached only the v2store (etcd-io/etcd#19557); etcd 3.6 reads the backend and would make it a learner again (\"too many learner members\")", who, in)
	case Unread:
		return fmt.Sprintf("the backend of %s could not be read (%s): the membership check before 3.6 is incomplete, so a learner or zombie record it holds would go unseen", who, f.Error)
	case Zombie:
		return fmt.Sprintf("%s is not in the member list, but the backends of %s still hold it: etcd 3.6 reads the backend and would bring it back as a zombie member (etcd-io/etcd#20967)", who, in)
	}
	return fmt.Sprintf("%s is in the member list, but the backends of %s do not hold it: etcd 3.6 reads the backend and would lose it", who, in)
}

// Fix says how to repair it before the upgrade to 3.6, as etcd 3.5's code
// does it: a promotion is written to the backend only when applied fresh
// (3.5.20+), and 3.5 syncs the learner flag only when a member applies a
// snapshot from its leader, so restarts do not repair it; 3.5.26+ removes
// zombies from a member's backend when it starts and publishes itself.
func (f Finding) Fix() string {
	who := f.Name
	if who == "" {
		who = f.ID
	}
	switch f.Kind {
	case Unread:
		return fmt.Sprintf("bring %s back so that it answers (status and a snapshot stream), then plan again", who)
	case Zombie:
		return "upgrade every member to the latest 3.5 patch (3.5.26 or later remove zombies from their backend when they start) and plan again"
	case Learner:
		return fmt.Sprintf("on 3.5.20 or later, replace the member: etcdpilot member replace %s --force (removed, added as a learner and promoted again, which every backend records); a restart does not repair it", who)
	}
	return fmt.Sprintf("on the latest 3.5 patch, replace the member: etcdpilot member replace %s --force", who)
}

// Compare lists where each backend disagrees with the member list.
func Compare(list []Listed, backends map[string]*Backend) []Finding {
	byKey := map[string]*Finding{}
	var keys []string
	add := func(kind string, id uint64, name, seen string) {
		k := kind + "/" + fmt.Sprintf("%x", id)
		f, ok := byKey[k]
		if !ok {
			f = &Finding{Kind: kind, ID: fmt.Sprintf("%x", id), Name: name}
			byKey[k] = f
			keys = append(keys, k)
		}
		f.SeenIn = append(f.SeenIn, seen)
	}
	listed := map[uint64]Listed{}
	for _, m := range list {
		listed[m.ID] = m
	}
	var owners []string
	for o := range backends {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		b := backends[o]
		for _, m := range list {
			bm, ok := b.Members[m.ID]
			switch {
			case !ok:
				add(Missing, m.ID, m.Name, o)
			case bm.IsLearner && !m.IsLearner:
				add(Learner, m.ID, m.Name, o)
			}
		}
		for id, bm := range b.Members {
			if _, ok := listed[id]; !ok {
				add(Zombie, id, bm.Name, o)
			}
		}
	}
	sort.Strings(keys)
	out := make([]Finding, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out
}
