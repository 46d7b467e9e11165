package staticpod

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
)

// Nodes is the member commands' provisioner for static pods: it
// re-creates members on the nodes whose etcd manifests the runtime knows
// (a member replaced on its node, a removed member added back), and
// provisions nothing new: a new control-plane node joins with kubeadm
// join --control-plane. Unlike a sandbox's, a retired member stays
// provisioned (its manifest is kept, parked), so the Runtime itself does
// not claim the Provisioner capability.
type Nodes struct{ *Runtime }

var _ runtime.Provisioner = Nodes{}

// Provision reserves a member on a node whose etcd manifest exists (in
// place, or parked by Retire): its peer URLs are the manifest's
// --initial-advertise-peer-urls.
func (r Nodes) Provision(ctx context.Context, name, _ string) (runtime.NewMember, error) {
	if _, ok := r.Manifests[name]; !ok {
		return runtime.NewMember{}, fmt.Errorf("no etcd manifest known for %s: the static-pod runtime re-creates members on nodes that have their manifest (a new control-plane node joins with kubeadm join --control-plane)", name)
	}
	s, err := r.state(ctx, name)
	if err != nil {
		return runtime.NewMember{}, err
	}
	m := s.current()
	urls := m.Flag("initial-advertise-peer-urls")
	if urls == "" {
		return runtime.NewMember{}, fmt.Errorf("%s: the etcd container has no --initial-advertise-peer-urls", m.File)
	}
	up := false
	if s.inPlace != nil {
		up, _ = r.processUp(ctx, name, s.inPlace)
	}
	return runtime.NewMember{Name: name, PeerURLs: strings.Split(urls, ","), Running: up}, nil
}

// Join starts a provisioned member as a new member of the cluster: its
// manifest comes back with --initial-cluster as the add returned it and
// --initial-cluster-state=existing (a first control-plane node's
// manifest has neither state nor peers beyond itself), over the empty data
// directory Retire left.
func (r Nodes) Join(ctx context.Context, name, initialCluster string) error {
	s, err := r.state(ctx, name)
	if err != nil {
		return err
	}
	if s.inPlace != nil {
		return fmt.Errorf("member %s: its manifest %s is in place; etcdpilot member replace stops it first", name, s.path)
	}
	m := s.parked.Clone()
	m.SetFlag("initial-cluster", initialCluster)
	m.SetFlag("initial-cluster-state", "existing")
	return r.writeAndWait(ctx, name, s, m)
}

// Retire stops the member (its manifest moved out) and moves its data
// directory aside, never deleting it: <data-dir>.etcdpilot-retired-<time>.
func (r Nodes) Retire(ctx context.Context, name string) error {
	if err := r.Stop(ctx, name); err != nil {
		return err
	}
	dir, err := r.DataDir(ctx, name)
	if err != nil {
		return err
	}
	aside := fmt.Sprintf("%s.etcdpilot-retired-%s", dir, time.Now().UTC().Format("20060102T150405"))
	if err := r.files(name).move(ctx, dir, aside); err != nil {
		return fmt.Errorf("member %s: moving its data directory aside: %w", name, err)
	}
	logging.OrDiscard(r.Log).Info("{member}'s data directory moved aside to {dir}", "member", name, "dir", aside)
	return nil
}

// Provisioned reports whether the runtime knows the member's manifest.
func (r Nodes) Provisioned(_ context.Context, name string) bool {
	_, ok := r.Manifests[name]
	return ok
}
