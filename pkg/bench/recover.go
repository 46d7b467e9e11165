package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/recovery"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// RecoverOptions configure the disaster-recovery benchmark.
type RecoverOptions struct {
	Version  string
	Runs     int
	Keys     int
	Root     string
	Binaries *binaries.Manager
	Log      *slog.Logger
}

// RecoverRun is one recovery: the time until 3 healthy, agreeing members,
// and the revisions lost against the most advanced member before.
type RecoverRun struct {
	Took time.Duration
	Lost int64
}

// RecoverResult holds both sides' runs.
type RecoverResult struct {
	Version       string
	ByHand, Pilot []RecoverRun
}

// Recover loses 2 of 3 members (SIGKILL, data moved aside) and brings the
// cluster back, by hand as etcd's disaster-recovery guide does it with the
// same survivor (--force-new-cluster, then etcdctl member add and a start
// with --initial-cluster-state existing, retried until etcd accepts), and
// with recover apply; each on a fresh sandbox, alternating.
func Recover(ctx context.Context, o RecoverOptions) (*RecoverResult, error) {
	log := logging.OrDiscard(o.Log)
	res := &RecoverResult{Version: o.Version}
	for i := 0; i < o.Runs; i++ {
		for _, pilot := range []bool{i%2 == 1, i%2 == 0} {
			r, err := o.once(ctx, i, pilot)
			if err != nil {
				return nil, err
			}
			side := "by hand"
			if pilot {
				side = "etcdpilot"
				res.Pilot = append(res.Pilot, *r)
			} else {
				res.ByHand = append(res.ByHand, *r)
			}
			log.Info("run {run} {side} healthy after {took}, {lost} revisions lost", "run", i+1, "side", side, "took", r.Took.Round(time.Millisecond), "lost", r.Lost)
		}
	}
	return res, nil
}

func (o RecoverOptions) once(ctx context.Context, run int, pilot bool) (*RecoverRun, error) {
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: fmt.Sprintf("dr%d-%v", run, pilot), Versions: []string{o.Version}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	sess, err := cluster.Open(c, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := Load(ctx, c, LoadOptions{Keys: o.Keys, ValueSize: 100, Prefix: "/dr/"}, nil); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	cl, err := sess.Status(ctx)
	if err != nil {
		return nil, err
	}
	var before int64
	for _, m := range cl.Members {
		if m.Revision > before {
			before = m.Revision
		}
	}
	for _, m := range st.Members[1:] {
		if err := sb.Kill(ctx, m.Name); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	if pilot {
		_, err = recovery.Apply(ctx, recovery.ApplyOptions{Options: recovery.Options{Session: sess, Runtime: sb},
			JournalPath: filepath.Join(sb.Dir, "journal.json"), LockDir: filepath.Join(o.Root, "locks"), GateTimeout: time.Minute})
	} else {
		err = byHandRecovery(ctx, sess, sb, st)
	}
	if err != nil {
		return nil, err
	}
	if err := settled(ctx, sess); err != nil {
		return nil, err
	}
	took := time.Since(start)
	after, err := sess.Status(ctx)
	if err != nil {
		return nil, err
	}
	return &RecoverRun{Took: took, Lost: before - after.Members[0].Revision}, nil
}

// byHandRecovery is etcd's guide scripted: the survivor restarted with
// --force-new-cluster, then without; each lost member added back with
// etcdctl member add (retried every second while etcd refuses) and
// started on an empty data directory with --initial-cluster-state
// existing.
func byHandRecovery(ctx context.Context, s *cluster.Session, sb *sandbox.Sandbox, st *sandbox.State) error {
	survivor := st.Members[0]
	if err := sb.Stop(ctx, survivor.Name); err != nil {
		return err
	}
	if err := sb.StartWithFlags(ctx, survivor.Name, runtime.StartOptions{}, []string{"--force-new-cluster"}); err != nil {
		return err
	}
	if _, err := s.WaitHealthy(ctx, time.Minute); err != nil {
		return err
	}
	if err := sb.Stop(ctx, survivor.Name); err != nil {
		return err
	}
	if err := sb.Start(ctx, survivor.Name, runtime.StartOptions{}); err != nil {
		return err
	}
	cli, err := st.Conn().Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	for _, m := range st.Members[1:] {
		if err := sb.Forget(ctx, m.Name); err != nil {
			return err
		}
		nm, err := sb.Provision(ctx, m.Name, m.Version)
		if err != nil {
			return err
		}
		// etcdctl member add prints ETCD_INITIAL_CLUSTER from its reply;
		// a member list now would need the quorum the new member is part
		// of.
		var resp *clientv3.MemberAddResponse
		for {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err = cli.MemberAdd(cctx, nm.PeerURLs)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return err
		}
		var ic []string
		for _, x := range resp.Members {
			name := x.Name
			if name == "" {
				name = m.Name
			}
			ic = append(ic, name+"="+x.PeerURLs[0])
		}
		if err := sb.Join(ctx, m.Name, strings.Join(ic, ",")); err != nil {
			return err
		}
	}
	return nil
}

// settled waits for 3 healthy voting members on one revision with
// agreeing hashes.
func settled(ctx context.Context, s *cluster.Session) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		cl, err := s.StatusWithHashes(ctx)
		if err == nil && cl.Health == status.Healthy && cl.Voters == 3 && cl.ReachableVoters == 3 && cl.Hash.Result == status.HashAgree {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the recovered cluster did not settle within 2 minutes")
}

// Table writes medians side by side.
func (r *RecoverResult) Table(w io.Writer) error {
	took := func(rs []RecoverRun) []time.Duration {
		var out []time.Duration
		for _, x := range rs {
			out = append(out, x.Took)
		}
		return out
	}
	lost := func(rs []RecoverRun) int64 {
		var n int64
		for _, x := range rs {
			n += x.Lost
		}
		return n
	}
	fmt.Fprintf(w, "recovery of a 3-member etcd %s cluster that lost 2 members (SIGKILL), %d runs each (medians)\n\n", r.Version, len(r.Pilot))
	h, p := took(r.ByHand), took(r.Pilot)
	return printer.Table(w, [][]string{
		{"", "BY HAND (ETCD'S GUIDE)", "ETCDPILOT RECOVER APPLY", "ETCDPILOT / BY HAND"},
		{"wall time to 3 healthy, agreeing members", ms(median(h)), ms(median(p)), fmt.Sprintf("%.2fx", ratio(p, h))},
		{"revisions lost (all runs)", fmt.Sprint(lost(r.ByHand)), fmt.Sprint(lost(r.Pilot)), ""},
	})
}
