package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func put(t *testing.T, c conn.Config, n int) {
	t.Helper()
	cli, err := c.Client()
	testutil.Must(t, err, "client")
	defer cli.Close()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.Put(ctx, fmt.Sprintf("/status-test/%03d", i), "v")
		cancel()
		testutil.Must(t, err, "put")
	}
}

// etcdctlView is what etcdctl endpoint status --cluster says.
type etcdctlView struct {
	members map[string]string // hex ID -> version
	leader  string            // hex ID
}

func etcdctl(t *testing.T, sb *sandbox.Sandbox, v string) etcdctlView {
	t.Helper()
	bins := testutil.Binaries(t, v)
	in, err := bins.Get(v)
	testutil.Must(t, err, "binaries")
	ctl, err := in.Bin("etcdctl")
	testutil.Must(t, err, "etcdctl")
	st, err := sb.State()
	testutil.Must(t, err, "state")
	cmd := exec.Command(ctl, "endpoint", "status", "--cluster", "-w", "json")
	for _, kv := range st.Env() {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	cmd.Env = append(cmd.Env, "ETCDCTL_API=3")
	out, err := cmd.Output()
	testutil.Must(t, err, "etcdctl endpoint status")
	var rows []struct {
		Status struct {
			Header struct {
				MemberID uint64 `json:"member_id"`
			} `json:"header"`
			Version string `json:"version"`
			Leader  uint64 `json:"leader"`
		}
	}
	testutil.Must(t, json.Unmarshal(out, &rows), "etcdctl json")
	view := etcdctlView{members: map[string]string{}}
	for _, r := range rows {
		view.members[fmt.Sprintf("%x", r.Status.Header.MemberID)] = r.Status.Version
		view.leader = fmt.Sprintf("%x", r.Status.Leader)
	}
	return view
}

func TestStatusHealthySandboxes(t *testing.T) {
	cases := []struct {
		name     string
		versions []string
		tls      bool
		cluster  string   // expected cluster version
		storage  []string // storage version per member ("" before 3.6)
	}{
		{"v35", []string{testutil.V35}, false, "3.5.0", []string{"", "", ""}},
		{"v36", []string{testutil.V36}, false, "3.6.0", []string{"3.6.0", "3.6.0", "3.6.0"}},
		// A 3.6 member of a 3.5 cluster keeps 3.5 storage.
		{"mixed", []string{testutil.V35, testutil.V35, testutil.V36}, false, "3.5.0", []string{"", "", "3.5.0"}},
		{"tls", []string{testutil.V35}, true, "3.5.0", []string{"", "", ""}},
		{"v34", []string{testutil.V34}, false, "3.4.0", []string{"", "", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := testutil.Sandbox(t, sandbox.Options{Versions: tc.versions, TLS: tc.tls})
			st, _ := sb.State()
			put(t, st.Conn(), 20)
			// Compare with etcdctl; on a loaded machine an election may happen
			// between the two looks, so retry when the terms differ.
			var cl *status.Cluster
			var view etcdctlView
			for attempt := 0; attempt < 10; attempt++ {
				var err error
				cl, err = status.CollectConfig(context.Background(), st.Conn(), status.Options{})
				testutil.Must(t, err, "collect")
				view = etcdctl(t, sb, tc.versions[0])
				// A new 3.6 cluster moves its storage version from 3.5 to
				// 3.6 shortly after the cluster version is set.
				if cl.Leader != "" && view.leader == leaderID(cl) && storageSettled(cl, tc.storage) {
					break
				}
				time.Sleep(time.Second)
			}
			if cl.Health != status.Healthy || cl.Hash.Result != status.HashAgree || cl.Leader == "" {
				t.Fatalf("want healthy, agreeing hashes and a leader: %+v", cl)
			}
			if cl.ClusterVersion != tc.cluster || cl.Voters != 3 || cl.Quorum != 2 {
				t.Fatalf("cluster version %q voters %d quorum %d", cl.ClusterVersion, cl.Voters, cl.Quorum)
			}
			if len(view.members) != len(cl.Members) {
				t.Fatalf("etcdctl sees %d members, status %d", len(view.members), len(cl.Members))
			}
			for i, m := range cl.Members {
				if view.members[m.ID] != m.ServerVersion {
					t.Errorf("member %s: etcdctl says version %q, status %q", m.Name, view.members[m.ID], m.ServerVersion)
				}
				if m.IsLeader != (m.ID == view.leader) {
					t.Errorf("member %s: leader disagreement (etcdctl leader %s)", m.Name, view.leader)
				}
				want := tc.versions[0]
				if len(tc.versions) > 1 {
					want = tc.versions[i]
				}
				if m.ServerVersion != want {
					t.Errorf("member %s runs %s, want %s", m.Name, m.ServerVersion, want)
				}
				if tc.storage[i] != m.StorageVersion {
					t.Errorf("member %s storage version %q", m.Name, m.StorageVersion)
				}
				if m.Revision < 2 || m.DBSize == 0 || m.AppliedIndex == 0 {
					t.Errorf("member %s: revision %d db %d applied %d", m.Name, m.Revision, m.DBSize, m.AppliedIndex)
				}
			}
		})
	}
}

func storageSettled(cl *status.Cluster, want []string) bool {
	for i, m := range cl.Members {
		if i < len(want) && m.StorageVersion != want[i] {
			return false
		}
	}
	return true
}

func leaderID(cl *status.Cluster) string {
	for _, m := range cl.Members {
		if m.IsLeader {
			return m.ID
		}
	}
	return ""
}

func TestStatusStoppedAndPausedMember(t *testing.T) {
	for _, fault := range []string{"stopped", "paused"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
			ctx := context.Background()
			st, _ := sb.State()
			// Disturb a follower: stopping or pausing the leader starts an
			// election, and the cluster is briefly without a leader.
			before, err := status.CollectConfig(ctx, st.Conn(), status.Options{SkipHash: true})
			testutil.Must(t, err, "collect")
			victim := ""
			for _, m := range before.Members {
				if !m.IsLeader {
					victim = m.Name
				}
			}
			if fault == "stopped" {
				testutil.Must(t, sb.Stop(ctx, victim), "stop")
			} else {
				testutil.Must(t, sb.Pause(ctx, victim), "pause")
				defer sb.Resume(ctx, victim)
			}
			c := st.Conn()
			c.CommandTimeout = 2 * time.Second
			start := time.Now()
			cl, err := status.CollectConfig(ctx, c, status.Options{})
			took := time.Since(start)
			testutil.Must(t, err, "collect")
			if cl.Health != status.Degraded || cl.ReachableVoters != 2 {
				t.Fatalf("want degraded with 2 reachable voters: %s %v", cl.Health, cl.Reasons)
			}
			for _, m := range cl.Members {
				if (m.Name == victim) == m.Reachable {
					t.Fatalf("member %s reachable=%v", m.Name, m.Reachable)
				}
				if m.Name == victim && m.Error == "" {
					t.Fatal("unreachable member has no error")
				}
			}
			// Bounded by the timeouts: member queries, alarms and hashes run
			// in parallel, each within the command timeout.
			if took > 3*c.CommandTimeout+c.DialTimeout+2*time.Second {
				t.Fatalf("status took %s", took)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	_, err := status.CollectConfig(context.Background(), conn.Config{Endpoints: []string{"127.0.0.1:1"}, CommandTimeout: time.Second}, status.Options{})
	if err == nil || !strings.Contains(err.Error(), "no reachable endpoint") {
		t.Fatalf("want no reachable endpoint, got %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.crt")
	_, err = status.CollectConfig(context.Background(), conn.Config{Endpoints: []string{"127.0.0.1:1"}, CACert: missing}, status.Options{})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("want error naming %s, got %v", missing, err)
	}
	_ = version.Plain
}
