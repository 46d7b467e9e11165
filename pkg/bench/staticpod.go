package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// StaticPodUpgrade compares, on a real kubelet (containerd, runc) with a
// real kube-apiserver on top, the naive kubeadm way (each member's
// manifest edited in place to the new image, in member order, waiting
// until it answers on the new version and the cluster is healthy) with
// upgrade apply --runtime static-pod. Each run starts a fresh node and
// cluster (kubeadm's stacked-etcd manifests, TLS) under the probe and an
// API client writing ConfigMaps at 20/s and watching them. It needs root
// and the Kubernetes builds of make kubernetes.
func StaticPodUpgrade(ctx context.Context, o UpgradeOptions) (*UpgradeResult, error) {
	res := &UpgradeResult{From: o.From, To: o.To, StaticPod: true}
	api := func(r UpgradeRun) string {
		return fmt.Sprintf("; API writes %d, failed %d, p99 %s, missed events %d", r.APIWrites, r.APIFailed, ms(r.APIP99), r.APIMissed)
	}
	var err error
	res.Naive, res.Pilot, err = alternate(o.Runs, o.Log, "naive", api, func(run int, pilot bool) (*UpgradeRun, error) {
		var out *UpgradeRun
		err := withHarness(o.Log, func(t testutil.T) error {
			var err error
			out, err = o.staticPodOnce(ctx, t, pilot)
			return err
		})
		return out, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (o UpgradeOptions) staticPodOnce(ctx context.Context, t testutil.T, pilot bool) (*UpgradeRun, error) {
	n := kube.NewNode(t, o.From, o.To)
	c := kube.EtcdCluster(t, n, o.From, 3)
	apiServer := kube.StartAPIServer(t, c.Conn)
	sess, err := cluster.Open(c.Conn, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := Load(ctx, c.Conn, LoadOptions{Keys: o.Keys, ValueSize: 1024, Prefix: "/load/"}, nil); err != nil {
		return nil, err
	}
	p, err := probe.Start(ctx, c.Conn, probe.Options{})
	if err != nil {
		return nil, err
	}
	load := &kube.APILoad{API: apiServer, Namespace: "bench", Rate: 20}
	lctx, stopLoad := context.WithCancel(ctx)
	apiDone := make(chan kube.APIReport, 1)
	go func() { apiDone <- load.Run(lctx) }()
	time.Sleep(2 * time.Second) // a steady state before the first restart
	start := time.Now()
	if pilot {
		rt := &staticpod.Runtime{Manifests: c.Manifests, PodLogs: n.PodLogs, Log: o.Log}
		_, err = upgrade.Apply(ctx, upgrade.Options{Target: o.To, Session: sess, Runtime: rt, Catalog: o.Catalog, SkipSnapshot: true, Log: o.Log,
			JournalPath: filepath.Join(n.Dir, "journal.json"), LockDir: filepath.Join(n.Dir, "locks")})
	} else {
		err = naiveManifestUpgrade(ctx, sess, c, o.To)
	}
	rolling := time.Since(start)
	if err == nil {
		err = sess.WaitClusterVersion(ctx, version.Minor(o.To), time.Minute)
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	stopLoad()
	ar := <-apiDone
	if err != nil {
		return nil, err
	}
	return &UpgradeRun{Failed: pr.FailedWrites, Retried: pr.RetriedWrites, Gap: pr.LongestGap, P99: pr.P99, Took: took, Rolling: rolling,
		LeaderChanges: pr.LeaderChanges, Lost: len(pr.Lost), Linearizable: pr.Linearizable, Errors: pr.Errors,
		APIWrites: ar.Writes, APIFailed: ar.Failed, APIP99: ar.P99, APIMax: ar.Max, APIMissed: ar.Missed}, nil
}

// naiveManifestUpgrade is the upgrade as most runbooks write it for
// kubeadm's stacked etcd: change the image tag in each manifest in place,
// member after member, and wait until the member answers on the new
// version and the cluster is healthy.
func naiveManifestUpgrade(ctx context.Context, s *cluster.Session, c *kube.Cluster, to string) error {
	for _, name := range c.Members {
		file := c.Manifests[name]
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		m, err := staticpod.Parse(file, data)
		if err != nil {
			return err
		}
		m.SetVersion(to, "")
		out, err := m.Marshal()
		if err != nil {
			return err
		}
		tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp") // the kubelet skips dot files
		if err := os.WriteFile(tmp, out, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, file); err != nil {
			return err
		}
		err = poll.Until(ctx, 200*time.Millisecond, 3*time.Minute, func(ctx context.Context) (bool, error) {
			cl, err := s.Status(ctx)
			if err != nil {
				return false, nil
			}
			m := cluster.Find(cl, name)
			return m != nil && m.Reachable && version.Compare(m.ServerVersion, to) == 0 && cl.Health == status.Healthy, nil
		})
		if err != nil {
			return fmt.Errorf("member %s after its manifest edit: %w", name, err)
		}
	}
	return nil
}
