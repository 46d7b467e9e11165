package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// DefragOptions configure the defragmentation benchmark.
type DefragOptions struct {
	Version string
	Runs    int
	// FreeMiB is written and deleted again before each run (free pages);
	// LiveMiB stays (what a defragmentation copies).
	FreeMiB, LiveMiB int
	// Leader is etcdpilot's leader policy (defrag.LeaderHandOff or
	// LeaderInPlace).
	Leader string
	// StopServing starts the members with etcd's StopGRPCServiceOnDefrag
	// (3.6 feature gate) and makes the probe a client that follows the
	// members' gRPC health: a member being defragmented gets no requests.
	StopServing bool
	Root        string
	Binaries    *binaries.Manager
	Catalog     *catalog.Catalog
	Log         *slog.Logger
}

// DefragResult holds both sides' runs (UpgradeRun's fields: stall, p99,
// failed writes, leader changes, wall time).
type DefragResult struct {
	Plain, Pilot []UpgradeRun
	Opts         DefragOptions
}

// Defrag compares etcdctl defrag --cluster (every member in member-list
// order, the leader in place) with etcdpilot defrag (followers first, the
// leader last after a hand-off), each on a fresh 3-member sandbox with
// the same free and live data, under the probe's 200 writes/s.
func Defrag(ctx context.Context, o DefragOptions) (*DefragResult, error) {
	res := &DefragResult{Opts: o}
	var err error
	res.Plain, res.Pilot, err = alternate(o.Runs, o.Log, "etcdctl", nil, func(run int, pilot bool) (*UpgradeRun, error) {
		return o.once(ctx, run, pilot)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (o DefragOptions) once(ctx context.Context, run int, pilot bool) (*UpgradeRun, error) {
	flags := []string{"--quota-backend-bytes=8589934592"}
	if o.StopServing {
		flags = append(flags, "--feature-gates=StopGRPCServiceOnDefrag=true")
	}
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: fmt.Sprintf("df%d-%v", run, pilot), Versions: []string{o.Version},
		ExtraFlags: flags})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	c := st.Conn()
	if err := Load(ctx, c, LoadOptions{Keys: o.FreeMiB * 4, ValueSize: 256 << 10, Prefix: "/free/", Title: fmt.Sprintf("writing %d MiB to delete", o.FreeMiB)}, nil); err != nil {
		return nil, err
	}
	if err := Load(ctx, c, LoadOptions{Keys: o.LiveMiB * 4, ValueSize: 256 << 10, Prefix: "/live/", Title: fmt.Sprintf("writing %d MiB to keep", o.LiveMiB)}, nil); err != nil {
		return nil, err
	}
	cli, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if _, err := cli.Delete(ctx, "/free/", clientv3.WithPrefix()); err != nil {
		return nil, err
	}
	resp, err := cli.Get(ctx, "x")
	if err != nil {
		return nil, err
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		return nil, err
	}
	sess, err := cluster.Open(c, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	p, err := probe.Start(ctx, c, probe.Options{HealthChecked: o.StopServing})
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	start := time.Now()
	if pilot {
		_, err = defrag.Apply(ctx, defrag.ApplyOptions{Options: defrag.Options{Session: sess, Catalog: o.Catalog, Leader: o.Leader},
			JournalPath: filepath.Join(sb.Dir, "journal.json"), LockDir: filepath.Join(o.Root, "locks")})
	} else {
		err = etcdctlDefrag(ctx, o, st)
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	if err != nil {
		return nil, err
	}
	return &UpgradeRun{Failed: pr.FailedWrites, Gap: pr.LongestGap, P99: pr.P99, Took: took,
		LeaderChanges: pr.LeaderChanges, Lost: len(pr.Lost), Linearizable: pr.Linearizable, Errors: pr.Errors}, nil
}

// etcdctlDefrag is the plain tool's way: etcdctl defrag --cluster.
func etcdctlDefrag(ctx context.Context, o DefragOptions, st *sandbox.State) error {
	bin, err := tool(ctx, o.Binaries, o.Version, "etcdctl")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "--endpoints="+strings.Join(st.Endpoints(), ","), "--command-timeout=10m", "defrag", "--cluster")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("etcdctl defrag --cluster: %v: %s", err, out)
	}
	return nil
}

// Table writes medians side by side with the ratios.
func (r *DefragResult) Table(w io.Writer) error {
	serving := "members serve during their defragmentation"
	if r.Opts.StopServing {
		serving = "StopGRPCServiceOnDefrag on, the probe follows gRPC health"
	}
	fmt.Fprintf(w, "defragmentation of 3 members (etcd %s), %d MiB free and %d MiB live each, under 200 writes/s (%s); etcdpilot's leader %s; %d runs per side (medians)\n\n",
		r.Opts.Version, r.Opts.FreeMiB, r.Opts.LiveMiB, serving, r.Opts.Leader, len(r.Pilot))
	col := func(runs []UpgradeRun, f func(UpgradeRun) time.Duration) time.Duration {
		var ds []time.Duration
		for _, x := range runs {
			ds = append(ds, f(x))
		}
		return median(ds)
	}
	total := func(runs []UpgradeRun, f func(UpgradeRun) int) string {
		n := 0
		for _, x := range runs {
			n += f(x)
		}
		return fmt.Sprint(n)
	}
	row := func(name string, f func(UpgradeRun) time.Duration) []string {
		a, b := col(r.Plain, f), col(r.Pilot, f)
		q := "-"
		if a > 0 {
			q = fmt.Sprintf("%.2fx", float64(b)/float64(a))
		}
		return []string{name, ms(a), ms(b), q}
	}
	return printer.Table(w, [][]string{
		{"", "ETCDCTL DEFRAG --CLUSTER", "ETCDPILOT DEFRAG", "ETCDPILOT / ETCDCTL"},
		row("longest write stall", func(x UpgradeRun) time.Duration { return x.Gap }),
		row("write p99", func(x UpgradeRun) time.Duration { return x.P99 }),
		row("wall time", func(x UpgradeRun) time.Duration { return x.Took }),
		{"failed writes (all runs)", total(r.Plain, func(x UpgradeRun) int { return x.Failed }), total(r.Pilot, func(x UpgradeRun) int { return x.Failed }), ""},
		{"leader changes (all runs)", total(r.Plain, func(x UpgradeRun) int { return int(x.LeaderChanges) }), total(r.Pilot, func(x UpgradeRun) int { return int(x.LeaderChanges) }), ""},
		{"lost writes (all runs)", total(r.Plain, func(x UpgradeRun) int { return x.Lost }), total(r.Pilot, func(x UpgradeRun) int { return x.Lost }), ""},
	})
}
