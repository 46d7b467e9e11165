package member

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/faultproxy"
	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// proxied starts a 3-member sandbox whose members advertise TCP proxies as
// their client URLs, so that every client request (and every reply) goes
// through a proxy the test controls.
func proxied(t *testing.T, v string) (*sandbox.Sandbox, []*faultproxy.Proxy, conn.Config) {
	t.Helper()
	var proxies []*faultproxy.Proxy
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{v}, BeforeStart: func(st *sandbox.State) error {
		for _, m := range st.Members {
			p, err := faultproxy.New(strings.TrimPrefix(m.ClientURL, "http://"))
			if err != nil {
				return err
			}
			proxies = append(proxies, p)
			m.AdvertiseClientURL = "http://" + p.Addr()
		}
		return nil
	}})
	t.Cleanup(func() {
		for _, p := range proxies {
			p.Close()
		}
	})
	st, err := sb.State()
	testutil.Must(t, err)
	// etcd refuses membership changes until its members have been
	// connected for 5 s (HealthInterval); start the faults after that.
	time.Sleep(5 * time.Second)
	c := st.Conn()
	c.CommandTimeout = time.Second
	c.DialTimeout = time.Second
	return sb, proxies, c
}

func dropReplies(ps []*faultproxy.Proxy, d time.Duration) {
	for _, p := range ps {
		p.DropReplies(d)
	}
}

func opts(c conn.Config, t *testing.T) Options {
	return Options{Session: testutil.Session(t, c), Timeout: time.Minute}
}

func withURL(t *testing.T, c conn.Config, url string) []Member {
	t.Helper()
	l, err := Get(context.Background(), testutil.Session(t, c))
	testutil.Must(t, err)
	var out []Member
	for _, m := range l.Members {
		for _, u := range m.PeerURLs {
			if u == url {
				out = append(out, m)
			}
		}
	}
	return out
}

func count(t *testing.T, c conn.Config) int {
	l, err := Get(context.Background(), testutil.Session(t, c))
	testutil.Must(t, err)
	return len(l.Members)
}

// TestDroppedReplies: the proxies forward MemberAdd, MemberPromote and
// MemberRemove but drop etcd's replies. etcdpilot ends with exactly the
// change asked for; plain etcdctl reports "context deadline exceeded" for
// a change that happened, and its retry fails.
func TestDroppedReplies(t *testing.T) {
	eachVersion(t, func(t *testing.T, v string, sb *sandbox.Sandbox, proxies []*faultproxy.Proxy, c conn.Config, ctx context.Context) {
		// Add, learner-first, reply dropped.
		o := AddOptions{Options: opts(c, t), Name: "m4"}
		var once sync.Once
		o.beforeCall = func(rpc string) { once.Do(func() { dropReplies(proxies, 2500*time.Millisecond) }) }
		res, err := AddProvisioned(ctx, sb, v, o)
		testutil.Must(t, err, "add with a dropped reply")
		if res.Resolved == 0 || res.Attempts != 1 {
			t.Errorf("the add was not resolved through the member list: %d attempts, %d resolved", res.Attempts, res.Resolved)
		}
		st, _ := sb.State()
		m4, _ := st.Member("m4")
		if got := withURL(t, c, m4.PeerURL); len(got) != 1 || !got[0].IsLearner || count(t, c) != 4 {
			t.Fatalf("after the add: %+v, %d members", got, count(t, c))
		}
		if !strings.Contains(res.InitialCluster, "m4="+m4.PeerURL) || res.InitialClusterState != "existing" {
			t.Errorf("initial cluster %q %q", res.InitialCluster, res.InitialClusterState)
		}
		// Promote, reply dropped.
		po := opts(c, t)
		var once2 sync.Once
		po.beforeCall = func(rpc string) { once2.Do(func() { dropReplies(proxies, 2500*time.Millisecond) }) }
		pr, err := Promote(ctx, po, "m4", time.Minute)
		testutil.Must(t, err, "promote with a dropped reply")
		if pr.Member.IsLearner {
			t.Errorf("m4 is still a learner")
		}

		// Plain etcdctl in the same situation.
		etcdctl := etcdctlPath(t, v)
		url := "http://127.0.0.1:1" + fmt.Sprint(time.Now().UnixNano()%9000+1000)
		run := func() (string, error) {
			cmd := exec.Command(etcdctl, "--endpoints", strings.Join(c.Endpoints, ","), "--command-timeout=1s", "member", "add", "m5", "--learner", "--peer-urls="+url)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		for _, p := range proxies {
			p.DropRepliesAfter(2500*time.Millisecond, 120)
		}
		out1, err1 := run()
		time.Sleep(3 * time.Second)
		out2, err2 := run()
		t.Logf("etcdctl member add with the reply dropped: err=%v: %s", err1, strings.TrimSpace(out1))
		t.Logf("etcdctl member add again: err=%v: %s", err2, strings.TrimSpace(out2))
		if err1 == nil || len(withURL(t, c, url)) != 1 || err2 == nil {
			t.Errorf("expected etcdctl to fail although the member was added: %v / %v, %d members with the URL", err1, err2, len(withURL(t, c, url)))
		}
		// etcdpilot on the same URL: already there, exit 0, no change.
		again, err := Add(ctx, AddOptions{Options: opts(c, t), Name: "m5", PeerURLs: []string{url}})
		if err != nil || !again.AlreadyPresent {
			t.Errorf("add of a present URL: %v %+v", err, again)
		}

		// Remove m5 (unstarted learner), reply dropped.
		ro := opts(c, t)
		var once3 sync.Once
		ro.beforeCall = func(rpc string) { once3.Do(func() { dropReplies(proxies, 2500*time.Millisecond) }) }
		l, _ := Get(ctx, testutil.Session(t, c))
		m5 := l.byPeerURL([]string{url})
		rr, err := Remove(ctx, ro, m5.ID)
		testutil.Must(t, err, "remove with a dropped reply")
		if rr.Unchanged || len(withURL(t, c, url)) != 0 {
			t.Errorf("remove: %+v, still there: %v", rr, withURL(t, c, url))
		}
		again2, err := Remove(ctx, opts(c, t), m5.ID)
		if err != nil || !again2.Unchanged {
			t.Errorf("second remove: %v %+v", err, again2)
		}
	})
}

func etcdctlPath(t *testing.T, v string) string {
	in, err := testutil.Binaries(t, v).Get(v)
	testutil.Must(t, err)
	p, err := in.Bin("etcdctl")
	testutil.Must(t, err)
	return p
}

// TestAddWhileTheLeaderDies kills the leader (kill -9) right before
// MemberAdd is sent and restarts it two seconds later, as systemd would:
// etcd refuses member changes until its peers have been connected again for
// a while; the add retries, and exactly one member is added.
func TestAddWhileTheLeaderDies(t *testing.T) {
	eachVersion(t, func(t *testing.T, v string, sb *sandbox.Sandbox, _ []*faultproxy.Proxy, c conn.Config, ctx context.Context) {
		o := AddOptions{Options: opts(c, t), Name: "m4"}
		var once sync.Once
		o.beforeCall = func(rpc string) {
			once.Do(func() {
				leader := leaderName(t, c)
				t.Logf("killing the leader %s", leader)
				testutil.Must(t, sb.Kill(ctx, leader))
				time.AfterFunc(2*time.Second, func() { sb.Start(context.Background(), leader, runtime.StartOptions{}) })
			})
		}
		res, err := AddProvisioned(ctx, sb, v, o)
		testutil.Must(t, err, "add while the leader dies")
		st, _ := sb.State()
		m4, _ := st.Member("m4")
		if got := withURL(t, c, m4.PeerURL); len(got) != 1 || count(t, c) != 4 {
			t.Fatalf("after the add: %+v, %d members", got, count(t, c))
		}
		t.Logf("added after %d attempts", res.Attempts)
	})
}

func leaderName(t *testing.T, c conn.Config) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		cl, err := statusCollect(c)
		if err == nil && cl != "" {
			return cl
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no leader")
	return ""
}

// TestPromoteLearnerThatNeverCatchesUp: a frozen learner (SIGSTOP) behind
// the leader; promote gives up after its wait with a clear error and the
// cluster is unchanged.
func TestPromoteLearnerThatNeverCatchesUp(t *testing.T) {
	eachVersion(t, func(t *testing.T, v string, sb *sandbox.Sandbox, _ []*faultproxy.Proxy, c conn.Config, ctx context.Context) {
		_, err := AddProvisioned(ctx, sb, v, AddOptions{Options: opts(c, t), Name: "m4"})
		testutil.Must(t, err)
		testutil.Must(t, sb.Pause(ctx, "m4"))
		lc := c
		lc.CommandTimeout = 10 * time.Second
		cli, err := lc.Client()
		testutil.Must(t, err)
		for i := 0; i < 600; i++ {
			_, err := cli.Put(ctx, fmt.Sprintf("/lag/%04d", i), "x")
			testutil.Must(t, err)
		}
		cli.Close()
		before, _ := Get(ctx, testutil.Session(t, c))
		_, err = Promote(ctx, opts(c, t), "m4", 4*time.Second)
		if err == nil || !strings.Contains(err.Error(), "did not catch up") {
			t.Fatalf("promote of a frozen learner: %v", err)
		}
		t.Logf("promote error: %v", err)
		after, _ := Get(ctx, testutil.Session(t, c))
		if fmt.Sprint(before.Members) != fmt.Sprint(after.Members) {
			t.Errorf("member list changed:\n%v\n%v", before.Members, after.Members)
		}
		// Bad input on the same cluster: nothing changes.
		_, err = Add(ctx, AddOptions{Options: opts(c, t), Name: "m5", PeerURLs: []string{"http://127.0.0.1:1999"}})
		if err == nil || !strings.Contains(err.Error(), "--max-learners") {
			t.Errorf("second learner: %v", err)
		}
		for _, bad := range []string{"127.0.0.1:2380", "http://127.0.0.1", "ftp://h:1", "http://h:1/path"} {
			if _, err := Add(ctx, AddOptions{Options: opts(c, t), Name: "x", PeerURLs: []string{bad}}); err == nil || !strings.Contains(err.Error(), "malformed") {
				t.Errorf("URL %s: %v", bad, err)
			}
		}
		if _, err := Promote(ctx, opts(c, t), "deadbeef", time.Second); err == nil || !strings.Contains(err.Error(), "no member named or with ID deadbeef") {
			t.Errorf("unknown ID: %v", err)
		}
		final, _ := Get(ctx, testutil.Session(t, c))
		if fmt.Sprint(before.Members) != fmt.Sprint(final.Members) {
			t.Errorf("bad input changed the member list")
		}
		sb.Resume(ctx, "m4")
	})
}

// TestQuorumRefusals: with one member dead, a voter add and the removal of
// a healthy member are refused; removing the dead one is fine, and then a
// replacement joins learner-first and is promoted.
func TestQuorumRefusalsAndReplace(t *testing.T) {
	t.Parallel()
	sb, _, c := proxied(t, testutil.V36)
	ctx := testutil.Context(t, 3*time.Minute)
	testutil.Must(t, sb.Kill(ctx, "m3"))
	before, _ := Get(ctx, testutil.Session(t, c))
	_, err := Add(ctx, AddOptions{Options: opts(c, t), Name: "m4", PeerURLs: []string{"http://127.0.0.1:1998"}, Voter: true})
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("voter add with a dead member: %v", err)
	}
	_, err = Remove(ctx, opts(c, t), "m2")
	if err == nil || !strings.Contains(err.Error(), "quorum") {
		t.Errorf("removing a healthy member with another dead: %v", err)
	}
	if after, _ := Get(ctx, testutil.Session(t, c)); fmt.Sprint(before.Members) != fmt.Sprint(after.Members) {
		t.Fatalf("refusals changed the member list")
	}
	res, err := ReplaceProvisioned(ctx, sb, "", opts(c, t), "m3", time.Minute)
	testutil.Must(t, err, "replace")
	t.Log(res.Message)
	l, _ := Get(ctx, testutil.Session(t, c))
	if len(l.Members) != 3 {
		t.Fatalf("members after replace: %+v", l.Members)
	}
	for _, m := range l.Members {
		if m.IsLearner || !m.Started {
			t.Errorf("member %+v", m)
		}
	}
	st, _ := sb.State()
	c2 := st.Conn()
	if cl, err := statusCollect(c2); err != nil || cl == "" {
		t.Errorf("no leader after replace: %v", err)
	}
}

func TestRemoveLastMember(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V35}})
	st, _ := sb.State()
	ctx := testutil.Context(t, time.Minute)
	_, err := Remove(ctx, Options{Session: testutil.Session(t, st.Conn())}, "m1")
	if err == nil || !strings.Contains(err.Error(), "last member") {
		t.Fatalf("removing the last member: %v", err)
	}
}

func TestFind(t *testing.T) {
	l := &List{Members: []Member{{ID: "a1", Name: "x", id: 0xa1}, {ID: "b2", Name: "x", id: 0xb2}, {ID: "c3", Name: "y", id: 0xc3}}}
	if _, err := l.Find("x"); err == nil || !strings.Contains(err.Error(), "matches 2 members") {
		t.Errorf("duplicate name: %v", err)
	}
	if m, err := l.Find("b2"); err != nil || m.ID != "b2" {
		t.Errorf("by ID: %v %v", m, err)
	}
	if m, err := l.Find("y"); err != nil || m.ID != "c3" {
		t.Errorf("by name: %v %v", m, err)
	}
	if _, err := l.Find("zz"); !isNotFound(err) {
		t.Errorf("absent: %v", err)
	}
}

func statusCollect(c conn.Config) (string, error) {
	cl, err := statusOf(c)
	if err != nil {
		return "", err
	}
	return cl, nil
}

// eachVersion runs fn in parallel subtests on a proxied 3-member sandbox
// of 3.5.35 and of 3.6.16.
func eachVersion(t *testing.T, fn func(t *testing.T, v string, sb *sandbox.Sandbox, proxies []*faultproxy.Proxy, c conn.Config, ctx context.Context)) {
	for _, v := range []string{testutil.V35, testutil.V36} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			sb, proxies, c := proxied(t, v)
			fn(t, v, sb, proxies, c, testutil.Context(t, 3*time.Minute))
		})
	}
}

// TestRemoveLeaderUnderLoad: removing the leader of a loaded cluster hands
// off the way an upgrade does (the quorum caught up, one move, a settled
// new leader): one leader change, no write lost, and no write failed
// beyond the one a hand-off may drop and one in flight on the probe's
// connection to the removed member, which exits.
func TestRemoveLeaderUnderLoad(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	c := st.Conn()
	ctx := testutil.Context(t, 3*time.Minute)
	time.Sleep(5 * time.Second) // etcd accepts member changes after 5 s of connected peers
	o := opts(c, t)
	cl, err := o.Session.Status(ctx)
	testutil.Must(t, err)
	leader := cl.Leader
	p, err := probe.Start(ctx, c, probe.Options{})
	testutil.Must(t, err)
	time.Sleep(time.Second)
	res, err := RemoveProvisioned(ctx, sb, o, leader)
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	testutil.Must(t, err, "remove the leader")
	t.Logf("%s; probe: %d writes, %d failed, longest gap %s, leader changes %d", res.Message, pr.Writes, pr.FailedWrites, pr.LongestGap, pr.LeaderChanges)
	if pr.LeaderChanges != 1 || pr.FailedWrites > 2 || len(pr.Lost) > 0 || !pr.Linearizable {
		t.Errorf("%d leader changes, %d failed writes (%v), lost %v, linearizable %v", pr.LeaderChanges, pr.FailedWrites, pr.Errors, pr.Lost, pr.Linearizable)
	}
	for _, e := range pr.Errors {
		handOff := strings.Contains(e, "leader") || strings.Contains(e, "request timed out")
		// The removed member answers what it had in flight with its
		// raft or its server stopping, or its connection goes.
		gone := strings.Contains(e, "raft: stopped") || strings.Contains(e, "etcdserver: server stopped") ||
			strings.Contains(e, "Unavailable") && (strings.Contains(e, "connection reset") || strings.Contains(e, "EOF"))
		if !handOff && !gone {
			t.Errorf("write failed for another reason than the hand-off or the removed member's exit: %s", e)
		}
	}
	after, err := o.Session.Status(ctx)
	testutil.Must(t, err)
	if len(after.Members) != 2 || after.Health != "healthy" || after.Leader == leader {
		t.Errorf("after the removal: %d members, %s, leader %s", len(after.Members), after.Health, after.Leader)
	}
}

// TestMoveLeaderUnderLoad exchanges the leader 1:1 for a new member while
// the probe writes and reads: the new member is added as a learner and
// promoted, then the old leader hands off and is removed. No write is
// lost, the history is linearizable, leadership changes once.
func TestMoveLeaderUnderLoad(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	c := st.Conn()
	ctx := testutil.Context(t, 3*time.Minute)
	time.Sleep(5 * time.Second) // etcd accepts member changes after 5 s of connected peers
	o := opts(c, t)
	cl, err := o.Session.Status(ctx)
	testutil.Must(t, err)
	leader := cl.Leader
	if _, err := MoveProvisioned(ctx, sb, "", o, leader, leader, time.Minute); err == nil {
		t.Fatal("a move onto the same name was accepted")
	}
	// Onto another voting member (issue 27: 3 voters became 2): refused,
	// nothing changes.
	other := "m1"
	if leader == other {
		other = "m2"
	}
	if _, err := MoveProvisioned(ctx, sb, "", o, leader, other, time.Minute); err == nil || !strings.Contains(err.Error(), "already a voting member") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("a move onto the voting member %s: %v", other, err)
	}
	if cl, _ := o.Session.Status(ctx); cl.Voters != 3 {
		t.Fatalf("the refused move changed the cluster: %d voters", cl.Voters)
	}
	p, err := probe.Start(ctx, c, probe.Options{})
	testutil.Must(t, err)
	time.Sleep(time.Second)
	res, err := MoveProvisioned(ctx, sb, "", o, leader, "m4", time.Minute)
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	testutil.Must(t, err, "move the leader")
	t.Logf("%s; probe: %d writes, %d failed, longest gap %s, leader changes %d", res.Message, pr.Writes, pr.FailedWrites, pr.LongestGap, pr.LeaderChanges)
	if pr.LeaderChanges > 1 || len(pr.Lost) > 0 || !pr.Linearizable || pr.FailedWrites > 2 {
		t.Errorf("%d leader changes, %d failed writes (%v), lost %v, linearizable %v", pr.LeaderChanges, pr.FailedWrites, pr.Errors, pr.Lost, pr.Linearizable)
	}
	after, err := o.Session.Status(ctx)
	testutil.Must(t, err)
	names := map[string]bool{}
	for _, m := range after.Members {
		names[m.Name] = !m.IsLearner && m.Reachable
	}
	if len(after.Members) != 3 || after.Health != "healthy" || !names["m4"] || names[leader] {
		t.Errorf("after the move: %d members %v, %s", len(after.Members), names, after.Health)
	}
	// Again: already moved, nothing changes.
	if res, err := MoveProvisioned(ctx, sb, "", o, leader, "m4", time.Minute); err != nil || !strings.Contains(res.Message, "already") {
		t.Errorf("second move: %v %v", res, err)
	}
}
