package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/member"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/probe"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// RemoveLeaderOptions configure the leader-removal benchmark.
type RemoveLeaderOptions struct {
	Version  string
	Runs     int
	Root     string
	Binaries *binaries.Manager
	Log      *slog.Logger
}

// Removal is one removal of the leader under the probe.
type Removal struct {
	LeaderChanges uint64
	Gap           time.Duration
	Failed        int
	Errors        []string
	// ToolError is the error the tool reported although the member was
	// removed (etcdctl's answer can come from the removed leader as it
	// stops: "etcdserver: server stopped").
	ToolError string
}

// RemoveLeaderResult holds both sides' removals.
type RemoveLeaderResult struct {
	Version      string
	Plain, Pilot []Removal
}

// RemoveLeader removes the leader of a loaded 3-member sandbox and adds it
// back, Runs times per side, alternating: plain etcdctl member remove of
// the leader beside etcdpilot's member remove (hand-off first). Each side
// has its own sandbox; only the removal is measured (the re-add, learner
// first, is etcdpilot's on both sides).
func RemoveLeader(ctx context.Context, o RemoveLeaderOptions) (*RemoveLeaderResult, error) {
	etcdctl, err := tool(ctx, o.Binaries, o.Version, "etcdctl")
	if err != nil {
		return nil, err
	}
	log := logging.OrDiscard(o.Log)
	res := &RemoveLeaderResult{Version: o.Version}
	sbs := map[bool]*sandbox.Sandbox{}
	for _, pilot := range []bool{false, true} {
		sb, _, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: fmt.Sprintf("rl-%v", pilot), Versions: []string{o.Version}})
		if err != nil {
			return nil, err
		}
		defer sb.Destroy(context.Background())
		sbs[pilot] = sb
	}
	for i := 0; i < o.Runs; i++ {
		for _, pilot := range []bool{i%2 == 1, i%2 == 0} {
			r, err := removeLeaderOnce(ctx, sbs[pilot], pilot, etcdctl)
			if err != nil {
				return nil, err
			}
			side := "etcdctl"
			if pilot {
				side = "etcdpilot"
				res.Pilot = append(res.Pilot, *r)
			} else {
				res.Plain = append(res.Plain, *r)
			}
			log.Info("run {run} {side} leader changes {leaderChanges}, longest stall {stall}, failed {failed} {errors}", "run", i+1, "side", side, "leaderChanges", r.LeaderChanges, "stall", ms(r.Gap), "failed", r.Failed, "errors", fmt.Sprint(r.Errors))
			if r.ToolError != "" {
				log.Info("    {side} reported an error, but the member was removed: {error}", "side", side, "error", r.ToolError)
			}
		}
	}
	return res, nil
}

func removeLeaderOnce(ctx context.Context, sb *sandbox.Sandbox, pilot bool, etcdctl string) (*Removal, error) {
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	c := st.Conn()
	sess, err := cluster.Open(c, nil)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	// etcd refuses membership changes until the members have been
	// connected for 5 s (a re-added member just joined).
	cl, err := sess.WaitHealthy(ctx, time.Minute)
	if err != nil {
		return nil, err
	}
	time.Sleep(5 * time.Second)
	leader := cluster.Leader(cl)
	if leader == nil {
		return nil, fmt.Errorf("no leader")
	}
	p, err := probe.Start(ctx, c, probe.Options{})
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	o := member.Options{Session: sess}
	if pilot {
		_, err = member.Remove(ctx, o, leader.Name)
	} else {
		var out []byte
		out, err = exec.CommandContext(ctx, etcdctl, "--endpoints", strings.Join(c.Endpoints, ","), "member", "remove", leader.ID).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("etcdctl member remove: %v: %s", err, lastLine(out))
		}
	}
	time.Sleep(time.Second)
	pr := p.Stop(ctx)
	toolErr := ""
	if err != nil {
		// The tool's word is not the last one: the member list is.
		l, lerr := member.Get(ctx, sess)
		if lerr != nil {
			return nil, err
		}
		if _, ferr := l.Find(leader.ID); ferr == nil {
			return nil, err
		}
		toolErr = err.Error()
	}
	// Back to three members: retire the removed one, add it again as a
	// learner and promote it.
	if err := sb.Retire(ctx, leader.Name); err != nil {
		return nil, err
	}
	if _, err := member.AddProvisioned(ctx, sb, "", member.AddOptions{Options: o, Name: leader.Name}); err != nil {
		return nil, fmt.Errorf("re-add %s: %w", leader.Name, err)
	}
	if _, err := member.Promote(ctx, o, leader.Name, time.Minute); err != nil {
		return nil, fmt.Errorf("re-add %s: %w", leader.Name, err)
	}
	return &Removal{LeaderChanges: pr.LeaderChanges, Gap: pr.LongestGap, Failed: pr.FailedWrites, Errors: pr.Errors, ToolError: toolErr}, nil
}

func lastLine(b []byte) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	return ls[len(ls)-1]
}

// Table writes the two sides with medians and ratios.
func (r *RemoveLeaderResult) Table(w io.Writer) error {
	gap := func(rs []Removal) time.Duration {
		var ds []time.Duration
		for _, x := range rs {
			ds = append(ds, x.Gap)
		}
		return median(ds)
	}
	worst := func(rs []Removal) time.Duration {
		var m time.Duration
		for _, x := range rs {
			m = max(m, x.Gap)
		}
		return m
	}
	changes := func(rs []Removal) string {
		n, one := uint64(0), 0
		for _, x := range rs {
			n += x.LeaderChanges
			if x.LeaderChanges == 1 {
				one++
			}
		}
		return fmt.Sprintf("%.1f (%d/%d with exactly 1)", float64(n)/float64(max(len(rs), 1)), one, len(rs))
	}
	failed := func(rs []Removal) int {
		n := 0
		for _, x := range rs {
			n += x.Failed
		}
		return n
	}
	toolErrs := func(rs []Removal) string {
		n := 0
		for _, x := range rs {
			if x.ToolError != "" {
				n++
			}
		}
		return fmt.Sprintf("%d/%d", n, len(rs))
	}
	ratio := "-"
	if g := gap(r.Plain); g > 0 {
		ratio = fmt.Sprintf("%.2fx", float64(gap(r.Pilot))/float64(g))
	}
	fmt.Fprintf(w, "remove the leader of 3 members of etcd %s under 200 writes/s, then add it back; %d removals each\n\n", r.Version, len(r.Pilot))
	return printer.Table(w, [][]string{
		{"", "ETCDCTL MEMBER REMOVE", "ETCDPILOT MEMBER REMOVE", "ETCDPILOT / ETCDCTL"},
		{"leader changes per removal (mean)", changes(r.Plain), changes(r.Pilot), ""},
		{"longest write stall (median)", ms(gap(r.Plain)), ms(gap(r.Pilot)), ratio},
		{"longest write stall (worst)", ms(worst(r.Plain)), ms(worst(r.Pilot)), ""},
		{"failed writes (all removals)", fmt.Sprint(failed(r.Plain)), fmt.Sprint(failed(r.Pilot)), ""},
		{"removals the tool reported as failed (but done)", toolErrs(r.Plain), toolErrs(r.Pilot), ""},
	})
}
