package agent

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestContinuousKillEverything: the agent's continuous backup records a
// cluster into a real S3 server (versitygw) under the availability
// probe's 200 writes/s; every member is killed with SIGKILL mid-load; the
// cluster is restored to the newest point the store holds. Against the
// probe's record: the writes restored are the first k but for writes
// that returned an error (the register says k too), and every write
// acknowledged more than the flush interval and a margin before the kill
// is among them.
func TestContinuousKillEverything(t *testing.T) {
	for _, v := range []string{testutil.V35, testutil.V36} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			testutil.S3Env(t)
			endpoint, _ := testutil.S3(t, "pitr")
			ctx := testutil.Context(t, 4*time.Minute)
			sb := testutil.Sandbox(t, sandbox.Options{Members: 3, Versions: []string{v}})
			st, _ := sb.State()
			c, err := load(writeConfig(t, "listen: 127.0.0.1:0\ncontinuous:\n  store: s3://pitr/etcd/\n  flush: 1s\n  compress: zstd\n"), fast)
			testutil.Must(t, err)
			stores := snapshot.Stores{S3: snapshot.S3Options{Endpoint: endpoint, PathStyle: true}}
			a := &Agent{Config: c, Session: testutil.Session(t, st.Conn()), Version: "test", Log: testutil.Logger(t), Stores: stores, StateDir: t.TempDir()}
			ag := startAgent(t, a)
			p, err := probe.Start(ctx, st.Conn(), probe.Options{Rate: 200, Prefix: "/probe/"})
			testutil.Must(t, err)
			waitMetrics(t, ag.base, "etcdpilot_pitr_segments_total", true)
			time.Sleep(5 * time.Second)
			_, metrics := get(t, ag.base+"/metrics")
			for _, want := range []string{"etcdpilot_pitr_stored_revision ", "etcdpilot_pitr_covered_timestamp_seconds ", "etcdpilot_pitr_bases_total 1", "etcdpilot_pitr_segment_bytes_total ", "etcdpilot_pitr_spool_bytes 0"} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}

			// Everything dies at once, mid-load.
			killed := time.Now()
			for _, m := range st.Members {
				testutil.Must(t, sb.Kill(ctx, m.Name))
			}
			ops := p.Halt()
			ag.stop(t)

			store, err := stores.Open(ctx, "s3://pitr/etcd/", false)
			testutil.Must(t, err)
			chains, err := pitr.Chains(ctx, store, "")
			testutil.Must(t, err)
			if len(chains) != 1 || len(chains[0].Holes) > 0 {
				t.Fatalf("chains %+v", chains)
			}
			out := t.TempDir() + "/newest.db"
			pt, err := pitr.Rebuilt(ctx, pitr.Request{Store: store, Revision: chains[0].Through, Out: out})
			testutil.Must(t, err, "rebuild")
			_, err = snapshot.RestoreSandbox(ctx, sb, out, snapshot.RestoreOptions{EtcdVersion: v, Sidecar: pt.Sidecar})
			testutil.Must(t, err, "restore")

			cli, err := st.Conn().Client()
			testutil.Must(t, err)
			defer cli.Close()
			resp, err := cli.Get(ctx, "/probe/", clientv3.WithPrefix())
			testutil.Must(t, err)
			var seqs []int64
			reg := int64(-1)
			for _, kv := range resp.Kvs {
				n, _ := strconv.ParseInt(string(kv.Value), 10, 64)
				if string(kv.Key) == "/probe/reg" {
					reg = n
					continue
				}
				seqs = append(seqs, n)
			}
			sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
			// The probe writes one at a time: the restored writes are 1..k,
			// but for writes that returned an error (the kill of the member
			// the client was talking to, before the next write went to a
			// member still alive): those may or may not have been applied.
			failed := map[int64]bool{}
			for _, op := range ops {
				if op.Write && op.Err != nil {
					failed[op.Value] = true
				}
			}
			k := int64(0)
			if len(seqs) > 0 {
				k = seqs[len(seqs)-1]
			}
			restored := map[int64]bool{}
			for _, n := range seqs {
				restored[n] = true
			}
			for n := int64(1); n <= k; n++ {
				if !restored[n] && !failed[n] {
					t.Fatalf("restored writes up to %d lack write %d, which was acknowledged", k, n)
				}
			}
			if reg != k {
				t.Fatalf("the register says %d, the newest key %d", reg, k)
			}
			var acked, lost int
			var lastKept time.Time
			for _, op := range ops {
				if !op.Write || op.Err != nil {
					continue
				}
				acked++
				if op.Value > k {
					lost++
					if op.Return.Before(killed.Add(-3 * time.Second)) {
						t.Errorf("write %d, acknowledged %s before the kill, is not restored", op.Value, killed.Sub(op.Return))
					}
				} else if op.Return.After(lastKept) {
					lastKept = op.Return
				}
			}
			t.Logf("%s: restored revision %d from %d segments: writes 1..%d (%d keys) of %d acknowledged; %d acknowledged writes lost, the newest restored one acknowledged %s before the kill",
				v, pt.Revision, pt.Segments, k, len(seqs), acked, lost, killed.Sub(lastKept).Round(time.Millisecond))
			if k == 0 {
				t.Fatal("nothing restored")
			}
		})
	}
}
