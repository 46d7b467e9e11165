package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// UpgradeOptions configure the rolling-upgrade benchmark.
type UpgradeOptions struct {
	From, To string
	Runs     int
	Keys     int // keys written before each upgrade
	Root     string
	Binaries *binaries.Manager
	Catalog  *catalog.Catalog
	Log      *slog.Logger
	// Downgrade compares etcd's by-hand downgrade (downgrade validate and
	// enable, then each member restarted in member order, leadership moved
	// off the leader first) with downgrade apply.
	Downgrade bool
}

// UpgradeRun is one upgrade under the probe.
type UpgradeRun struct {
	Failed, Retried int
	Gap, P99, Took  time.Duration
	// Rolling is the time until the last member passed its gates (for
	// apply, before it waits for etcd to move the cluster version).
	Rolling       time.Duration
	LeaderChanges uint64
	Errors        []string
	Lost          int
	Linearizable  bool
	// Through a kube-apiserver (static-pod runs): ConfigMap writes, their
	// failures and latency, and acknowledged writes no watch delivered.
	APIWrites, APIFailed, APIMissed int
	APIP99, APIMax                  time.Duration
}

// UpgradeResult holds both sides' runs.
type UpgradeResult struct {
	Naive, Pilot []UpgradeRun
	From, To     string
	Downgrade    bool
	StaticPod    bool
}

// Upgrade compares a naive rolling restart (SIGTERM each member in member
// order, start it on the new binary, wait until the cluster is healthy)
// with etcdpilot's upgrade apply (followers first, leader hand-off, gates),
// each on a fresh 3-member sandbox under the same probe load, alternating
// the order run by run. The pre-upgrade snapshot is skipped on both sides.
func Upgrade(ctx context.Context, o UpgradeOptions) (*UpgradeResult, error) {
	res := &UpgradeResult{From: o.From, To: o.To, Downgrade: o.Downgrade}
	rolling := func(r UpgradeRun) string {
		return fmt.Sprintf(", retried %d (rolling part %s)", r.Retried, r.Rolling.Round(time.Millisecond))
	}
	var err error
	res.Naive, res.Pilot, err = alternate(o.Runs, o.Log, "naive", rolling, func(run int, pilot bool) (*UpgradeRun, error) {
		return o.once(ctx, run, pilot)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (o UpgradeOptions) once(ctx context.Context, run int, pilot bool) (*UpgradeRun, error) {
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: fmt.Sprintf("up%d-%v", run, pilot), Versions: []string{o.From}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	c := st.Conn()
	sess, err := cluster.Open(c, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := Load(ctx, c, LoadOptions{Keys: o.Keys, ValueSize: 1024, Prefix: "/load/"}, nil); err != nil {
		return nil, err
	}
	p, err := probe.Start(ctx, c, probe.Options{})
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // a steady state before the first restart
	start := time.Now()
	uo := upgrade.Options{Target: o.To, Session: sess, Runtime: sb, Catalog: o.Catalog,
		SkipSnapshot: true, JournalPath: filepath.Join(sb.Dir, "journal.json"), LockDir: filepath.Join(o.Root, "locks")}
	switch {
	case pilot && o.Downgrade:
		_, err = upgrade.Downgrade(ctx, uo)
	case pilot:
		_, err = upgrade.Apply(ctx, uo)
	case o.Downgrade:
		err = byHandDowngrade(ctx, sess, sb, st, o.To)
	default:
		err = naiveUpgrade(ctx, sb, st, o.To)
	}
	rolling := time.Since(start)
	if !pilot && err == nil {
		// The naive script ends at the last /health; the upgrade ends when
		// etcd moves the cluster version (and a downgrade is over). Both
		// sides are timed to that.
		err = sess.WaitClusterVersion(ctx, version.Minor(o.To), time.Minute)
		if err == nil && o.Downgrade {
			err = sess.WaitDowngradeOver(ctx, time.Minute)
		}
	}
	took := time.Since(start)
	if pilot {
		if j, jerr := engine.LoadJournal(filepath.Join(sb.Dir, "journal.json")); jerr == nil {
			for _, e := range j.Entries {
				if e.Action == engine.ClusterVersion && e.Status == engine.Started {
					rolling = e.At.Sub(start)
				}
			}
		}
	}
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	if err != nil {
		return nil, err
	}
	return &UpgradeRun{Failed: pr.FailedWrites, Retried: pr.RetriedWrites, Gap: pr.LongestGap, P99: pr.P99, Took: took, Rolling: rolling,
		LeaderChanges: pr.LeaderChanges, Lost: len(pr.Lost), Linearizable: pr.Linearizable, Errors: pr.Errors}, nil
}

// naiveUpgrade is what a hand-written script does: restart each member in
// order on the new binary and wait for health.
func naiveUpgrade(ctx context.Context, sb *sandbox.Sandbox, st *sandbox.State, to string) error {
	for _, m := range st.Members {
		if err := sb.Stop(ctx, m.Name); err != nil {
			return err
		}
		if err := sb.Start(ctx, m.Name, runtime.StartOptions{Version: to}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := sb.WaitHealthy(wctx)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// byHandDowngrade is etcd's downgrade guide done by hand: downgrade
// validate and enable, wait for the storage version, then each member in
// member order stopped and started on the old binary, leadership moved
// off the leader first (etcdctl move-leader).
func byHandDowngrade(ctx context.Context, s *cluster.Session, sb *sandbox.Sandbox, st *sandbox.State, to string) error {
	minor := version.Minor(to)
	cl, err := s.Status(ctx)
	if err != nil {
		return err
	}
	for _, a := range []clientv3.DowngradeAction{clientv3.DowngradeValidate, clientv3.DowngradeEnable} {
		if err := s.Downgrade(ctx, cl, a, minor); err != nil {
			return err
		}
	}
	if err := s.WaitStorageVersion(ctx, minor, time.Minute); err != nil {
		return err
	}
	for i, m := range st.Members {
		cl, err := s.Status(ctx)
		if err != nil {
			return err
		}
		if l := cluster.Leader(cl); l != nil && l.Name == m.Name {
			next := cluster.Find(cl, st.Members[(i+1)%len(st.Members)].Name)
			if err := s.MoveLeader(ctx, l, next); err != nil {
				return err
			}
		}
		if err := sb.Stop(ctx, m.Name); err != nil {
			return err
		}
		if err := sb.Start(ctx, m.Name, runtime.StartOptions{Version: to}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = sb.WaitHealthyOn(wctx, s)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// Table writes medians side by side with the ratios.
func (r *UpgradeResult) Table(w io.Writer) error {
	med := func(runs []UpgradeRun, f func(UpgradeRun) time.Duration) time.Duration {
		var ds []time.Duration
		for _, x := range runs {
			ds = append(ds, f(x))
		}
		return median(ds)
	}
	sum := func(runs []UpgradeRun, f func(UpgradeRun) int) int {
		n := 0
		for _, x := range runs {
			n += f(x)
		}
		return n
	}
	medInt := func(runs []UpgradeRun, f func(UpgradeRun) int) int {
		var xs []int
		for _, x := range runs {
			xs = append(xs, f(x))
		}
		sort.Ints(xs)
		if len(xs) == 0 {
			return 0
		}
		return xs[len(xs)/2]
	}
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", float64(a)/float64(b))
	}
	gap := func(x UpgradeRun) time.Duration { return x.Gap }
	p99 := func(x UpgradeRun) time.Duration { return x.P99 }
	took := func(x UpgradeRun) time.Duration { return x.Took }
	rolling := func(x UpgradeRun) time.Duration { return x.Rolling }
	failed := func(x UpgradeRun) int { return x.Failed }
	leader := func(x UpgradeRun) int { return int(x.LeaderChanges) }
	lost := func(x UpgradeRun) int { return x.Lost }
	nonLin := func(x UpgradeRun) int {
		if x.Linearizable {
			return 0
		}
		return 1
	}
	count := func(runs []UpgradeRun, f func(UpgradeRun) bool) string {
		k := 0
		for _, x := range runs {
			if f(x) {
				k++
			}
		}
		return fmt.Sprintf("%d/%d", k, len(runs))
	}
	clean := func(x UpgradeRun) bool { return x.Failed == 0 && x.Gap <= 100*time.Millisecond }
	oneChange := func(x UpgradeRun) bool { return x.LeaderChanges == 1 }
	change, naive, pilot, ratioHdr := "upgrade", "NAIVE RESTART", "ETCDPILOT APPLY", "ETCDPILOT / NAIVE"
	if r.Downgrade {
		change, naive, pilot, ratioHdr = "downgrade", "BY HAND (ETCD'S GUIDE)", "ETCDPILOT DOWNGRADE APPLY", "ETCDPILOT / BY HAND"
	}
	where := ""
	if r.StaticPod {
		naive = "NAIVE MANIFEST EDIT"
		where = " static pods on a kubelet, kube-apiserver on top (ConfigMaps at 20 writes/s, watched),"
	}
	fmt.Fprintf(w, "rolling %s %s -> %s, 3 members,%s probe at 200 writes/s; %d runs each (medians; failed writes summed)\n\n", change, r.From, r.To, where, len(r.Naive))
	n, p := r.Naive, r.Pilot
	rows := [][]string{
		{"", naive, pilot, ratioHdr},
		{"longest write stall", ms(med(n, gap)), ms(med(p, gap)), ratio(med(p, gap), med(n, gap))},
		{"write p99", ms(med(n, p99)), ms(med(p, p99)), ratio(med(p, p99), med(n, p99))},
		{"failed writes (all runs)", fmt.Sprint(sum(n, failed)), fmt.Sprint(sum(p, failed)), ""},
		{"runs with 0 failed writes, stall <= 100 ms", count(n, clean), count(p, clean), ""},
		{"leader changes (median)", fmt.Sprint(medInt(n, leader)), fmt.Sprint(medInt(p, leader)), ""},
		{"runs with exactly 1 leader change", count(n, oneChange), count(p, oneChange), ""},
		{"lost acknowledged writes", fmt.Sprint(sum(n, lost)), fmt.Sprint(sum(p, lost)), ""},
		{"non-linearizable histories", fmt.Sprint(sum(n, nonLin)), fmt.Sprint(sum(p, nonLin)), ""},
		{"wall time to cluster version moved", ms(med(n, took)), ms(med(p, took)), ratio(med(p, took), med(n, took))},
		{"wall time to last member up", ms(med(n, rolling)), ms(med(p, rolling)), ratio(med(p, rolling), med(n, rolling))},
	}
	if r.StaticPod {
		apiP99 := func(x UpgradeRun) time.Duration { return x.APIP99 }
		apiMax := func(x UpgradeRun) time.Duration { return x.APIMax }
		rows = append(rows,
			[]string{"API writes (all runs)", fmt.Sprint(sum(n, func(x UpgradeRun) int { return x.APIWrites })), fmt.Sprint(sum(p, func(x UpgradeRun) int { return x.APIWrites })), ""},
			[]string{"API write errors (all runs)", fmt.Sprint(sum(n, func(x UpgradeRun) int { return x.APIFailed })), fmt.Sprint(sum(p, func(x UpgradeRun) int { return x.APIFailed })), ""},
			[]string{"API write p99", ms(med(n, apiP99)), ms(med(p, apiP99)), ratio(med(p, apiP99), med(n, apiP99))},
			[]string{"API write max", ms(med(n, apiMax)), ms(med(p, apiMax)), ratio(med(p, apiMax), med(n, apiMax))},
			[]string{"missed watch events (all runs)", fmt.Sprint(sum(n, func(x UpgradeRun) int { return x.APIMissed })), fmt.Sprint(sum(p, func(x UpgradeRun) int { return x.APIMissed })), ""},
		)
	}
	return printer.Table(w, rows)
}
