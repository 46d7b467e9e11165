package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// HandoffOptions configure the leader hand-off benchmark.
type HandoffOptions struct {
	Version  string
	Handoffs int
	Rate     int // writes per second, Poisson arrivals, each to a random member
	Root     string
	Binaries *binaries.Manager
	Log      *slog.Logger
}

// Handoff is one MoveLeader under load.
type Handoff struct {
	From, To string
	// Window runs from the old leader starting the transfer (from then on
	// it drops every proposal) to the last member entering the new term
	// (until then a follower forwards proposals to the old leader).
	Window time.Duration
	// Immediate: the target's log was up to date, so the leader sent
	// MsgTimeoutNow at once instead of after one more append round.
	Immediate bool
	// Hung counts writes that failed only after etcd's request timeout: a
	// follower forwarded them into the window and the leader dropped them
	// without a word (etcd-io/etcd#8975, #9137).
	Hung int
	// Refused counts writes refused at once with "raft proposal dropped";
	// they never entered the log, so a client may send them again.
	Refused int
}

// HandoffResult holds every hand-off.
type HandoffResult struct {
	Version  string
	Rate     int
	Writes   int
	Handoffs []Handoff
}

type write struct {
	start, end time.Time
	err        error
}

// Handoffs moves leadership around a 3-member sandbox o.Handoffs times,
// the way upgrade apply hands off before the leader restarts, while
// writes arrive at o.Rate per second at random members, and measures from
// the members' own logs how long each transfer left proposals unanswered.
func Handoffs(ctx context.Context, o HandoffOptions) (*HandoffResult, error) {
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: "bench-handoff", Versions: []string{o.Version}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	cfg := st.Conn()
	sess, err := cluster.Open(cfg, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	log := logging.OrDiscard(o.Log)
	var clis []*clientv3.Client
	for _, ep := range st.Endpoints() {
		c, err := cfg.ForEndpoint(ep).Client()
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clis = append(clis, c)
	}
	stop := writeAtRandom(ctx, clis, o.Rate)
	time.Sleep(time.Second)
	type call struct {
		from, to   string
		start, end time.Time
	}
	var calls []call
	for i := 0; i < o.Handoffs; i++ {
		cl, err := sess.Status(ctx)
		if err != nil {
			stop()
			return nil, err
		}
		from, to := leaderAndNext(cl, i)
		if from == nil || to == nil {
			stop()
			return nil, fmt.Errorf("no leader or no follower: %v", cl.Reasons)
		}
		c := call{from: from.Name, to: to.Name, start: time.Now()}
		if err := sess.MoveLeader(ctx, from, to); err != nil {
			stop()
			return nil, err
		}
		c.end = time.Now()
		calls = append(calls, c)
		log.Info("hand-off {handoff}/{handoffs}: {from} -> {to}", "handoff", i+1, "handoffs", o.Handoffs, "from", c.from, "to", c.to)
		time.Sleep(time.Second)
	}
	// A write dropped in the window fails after etcd's request timeout
	// (5 s + 2 election timeouts).
	log.Info("waiting 8s for writes caught in a hand-off to time out")
	time.Sleep(8 * time.Second)
	ops := stop()
	var events []logEvent
	for _, m := range st.Members {
		events = append(events, raftEvents(m.LogFile)...)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	res := &HandoffResult{Version: o.Version, Rate: o.Rate, Writes: len(ops)}
	for _, c := range calls {
		h := Handoff{From: c.from, To: c.to}
		var t0, last time.Time
		for _, e := range events {
			if e.at.Before(c.start) || e.at.After(c.end) {
				continue
			}
			switch {
			case strings.Contains(e.msg, "starts to transfer leadership") && t0.IsZero():
				t0 = e.at
			case strings.Contains(e.msg, "MsgTimeoutNow") && strings.Contains(e.msg, "immediately"):
				h.Immediate = true
			case strings.Contains(e.msg, "became follower at term") && !t0.IsZero():
				last = e.at
			}
		}
		if !t0.IsZero() && last.After(t0) {
			h.Window = last.Sub(t0)
		}
		for _, w := range ops {
			if w.start.Before(c.start.Add(-50*time.Millisecond)) || w.start.After(c.end) {
				continue
			}
			switch {
			case conn.ProposalDropped(w.err):
				h.Refused++
			case w.err != nil || w.end.Sub(w.start) > time.Second:
				h.Hung++
			}
		}
		res.Handoffs = append(res.Handoffs, h)
	}
	return res, nil
}

// leaderAndNext returns the leader and the i-th other voter, round robin.
func leaderAndNext(cl *status.Cluster, i int) (leader, to *status.Member) {
	var others []*status.Member
	for j := range cl.Members {
		m := &cl.Members[j]
		switch {
		case m.IsLeader:
			leader = m
		case m.Reachable && !m.IsLearner:
			others = append(others, m)
		}
	}
	if len(others) == 0 {
		return leader, nil
	}
	return leader, others[i%len(others)]
}

// writeAtRandom sends writes with Poisson arrivals at rate per second, each
// to a random client, each on its own, so that a hung write holds up no
// other. stop ends it and returns every write once all have returned.
func writeAtRandom(ctx context.Context, clis []*clientv3.Client, rate int) (stop func() []write) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var ops []write
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(rand.ExpFloat64() * float64(time.Second) / float64(rate))):
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := write{start: time.Now()}
				wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, w.err = clis[rand.Intn(len(clis))].Put(wctx, "/bench/handoff/"+strconv.Itoa(i%1000), "v")
				wcancel()
				w.end = time.Now()
				mu.Lock()
				ops = append(ops, w)
				mu.Unlock()
			}()
		}
	}()
	return func() []write {
		cancel()
		wg.Wait()
		return ops
	}
}

// Table writes the summary. The chance line is what the hand-off rate
// means for a rolling upgrade, which hands off once: the probability that
// at least 9 of 10 upgrades hang no write.
func (r *HandoffResult) Table(w io.Writer) error {
	n := len(r.Handoffs)
	if n == 0 {
		return fmt.Errorf("no hand-offs measured")
	}
	var windows []time.Duration
	var immediate, hit, hung, refused int
	for _, h := range r.Handoffs {
		windows = append(windows, h.Window)
		if h.Immediate {
			immediate++
		}
		if h.Hung > 0 {
			hit++
		}
		hung += h.Hung
		refused += h.Refused
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i] < windows[j] })
	p := float64(hit) / float64(n)
	usec := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "leader hand-offs on 3 members of etcd %s, %d writes/s at random members (%d writes)\n\n", r.Version, r.Rate, r.Writes)
	return printer.Table(w, [][]string{
		{"hand-offs", fmt.Sprint(n)},
		{"transfer window p50 / p90 / max", usec(windows[n/2]) + " / " + usec(windows[n*9/10]) + " / " + usec(windows[n-1])},
		{"target up to date at once (no extra append round)", fmt.Sprintf("%d/%d", immediate, n)},
		{"hand-offs that hung a forwarded write", fmt.Sprintf("%d/%d (%.0f%%), %d writes", hit, n, 100*p, hung)},
		{"writes refused at once (safe to resend)", fmt.Sprint(refused)},
		{"chance that >= 9 of 10 upgrades hang no write", fmt.Sprintf("%.0f%%", 100*atLeast(9, 10, 1-p))},
	})
}

// atLeast is P(X >= k) for X ~ Binomial(n, p).
func atLeast(k, n int, p float64) float64 {
	sum := 0.0
	for i := k; i <= n; i++ {
		c := 1.0
		for j := 0; j < i; j++ {
			c = c * float64(n-j) / float64(j+1)
		}
		sum += c * math.Pow(p, float64(i)) * math.Pow(1-p, float64(n-i))
	}
	return sum
}
