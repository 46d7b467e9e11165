package staticpod_test

import (
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/runtime/runtimetest"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
)

// node starts one kubelet with 3 static-pod members on 3.5 and the
// runtime that drives them.
func node(t *testing.T) (*kube.Cluster, *staticpod.Runtime) {
	n := kube.NewNode(t, testutil.V35, testutil.V36)
	c := kube.EtcdCluster(t, n, testutil.V35, 3)
	rt := &staticpod.Runtime{Manifests: c.Manifests, PodLogs: n.PodLogs, Log: testutil.Logger(t)}
	return c, rt
}

// TestStaticPodConformance: the static-pod runtime under a real kubelet
// passes the suite every runtime passes.
func TestStaticPodConformance(t *testing.T) {
	c, rt := node(t)
	cfg := c.Conn
	cfg.CommandTimeout = 2 * time.Second
	runtimetest.Run(t, runtimetest.Target{Runtime: rt, Session: testutil.Session(t, cfg), From: testutil.V35, To: testutil.V36})
}
