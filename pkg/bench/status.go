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
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// StatusOptions configure the status benchmark.
type StatusOptions struct {
	Version  string
	Members  int
	Runs     int
	Root     string
	Binaries *binaries.Manager
	// Etcdpilot is the etcdpilot binary to time (a process each run, as
	// the operator runs it).
	Etcdpilot string
	Log       *slog.Logger
}

// StatusResult holds the wall times of both sides.
type StatusResult struct {
	Version        string
	Members        int
	Etcdctl, Pilot []time.Duration
}

// Status times etcdpilot status (versions, leader, indexes, DB sizes,
// alarms, health, hash agreement) against what etcdctl needs for the same
// picture: endpoint status, endpoint health and endpoint hashkv with
// --cluster, one after the other, on one sandbox, alternating.
func Status(ctx context.Context, o StatusOptions) (*StatusResult, error) {
	etcdctl, err := tool(ctx, o.Binaries, o.Version, "etcdctl")
	if err != nil {
		return nil, err
	}
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: "bench-status", Members: o.Members, Versions: []string{o.Version}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	if err := Load(ctx, st.Conn(), LoadOptions{Keys: 1000, ValueSize: 100, Prefix: "/status/"}, nil); err != nil {
		return nil, err
	}
	eps := strings.Join(st.Endpoints(), ",")
	log := logging.OrDiscard(o.Log)
	res := &StatusResult{Version: o.Version, Members: o.Members}
	timed := func(name string, args ...string) (time.Duration, error) {
		start := time.Now()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return time.Since(start), nil
	}
	for i := 0; i < o.Runs; i++ {
		sides := []func() error{
			func() error {
				var total time.Duration
				for _, c := range []string{"status", "health", "hashkv"} {
					d, err := timed(etcdctl, "--endpoints", eps, "endpoint", c, "--cluster", "-w", "json")
					if err != nil {
						return err
					}
					total += d
				}
				res.Etcdctl = append(res.Etcdctl, total)
				return nil
			},
			func() error {
				d, err := timed(o.Etcdpilot, "status", "--endpoints", eps, "-w", "json")
				res.Pilot = append(res.Pilot, d)
				return err
			},
		}
		if i%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, s := range sides {
			if err := s(); err != nil {
				return nil, err
			}
		}
		log.Info("run {run}: etcdctl {etcdctl}, etcdpilot {etcdpilot}", "run", i+1, "etcdctl", ms(res.Etcdctl[i]), "etcdpilot", ms(res.Pilot[i]))
	}
	return res, nil
}

// Ratio is etcdpilot's median wall time over etcdctl's.
func (r *StatusResult) Ratio() float64 { return ratio(r.Pilot, r.Etcdctl) }

// Table writes the medians side by side.
func (r *StatusResult) Table(w io.Writer) error {
	fmt.Fprintf(w, "status of %d members of etcd %s, median of %d runs each\n\n", r.Members, r.Version, len(r.Pilot))
	return wallTimes(w, "ETCDCTL (endpoint status + health + hashkv, --cluster)", "ETCDPILOT STATUS", "ETCDCTL", r.Etcdctl, r.Pilot)
}
