// Package bench measures etcdpilot against the plain tools on real
// clusters, side by side in one run, and prints the ratios.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// newSandbox creates a quiet sandbox under root and reads its state; the
// caller destroys it.
func newSandbox(ctx context.Context, root string, bins *binaries.Manager, opts sandbox.Options) (*sandbox.Sandbox, *sandbox.State, error) {
	sb, err := sandbox.Create(ctx, root, bins, opts, nil)
	if err != nil {
		return nil, nil, err
	}
	st, err := sb.State()
	if err != nil {
		sb.Destroy(context.Background())
		return nil, nil, err
	}
	return sb, st, nil
}

// tool is the path of one of version v's tools (etcdctl, etcdutl),
// installed first when needed.
func tool(ctx context.Context, bins *binaries.Manager, v, name string) (string, error) {
	in, err := bins.Install(ctx, v, binaries.Options{})
	if err != nil {
		return "", err
	}
	return in.Bin(name)
}

// median of durations.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median of pilot over the median of plain.
func ratio(pilot, plain []time.Duration) float64 {
	return float64(median(pilot)) / float64(median(plain))
}

// wallTimes writes the median wall times of the plain tool and etcdpilot
// side by side, with their ratio.
func wallTimes(w io.Writer, plainCol, pilotCol, plainName string, plain, pilot []time.Duration) error {
	return printer.Table(w, [][]string{
		{"", plainCol, pilotCol, "ETCDPILOT / " + plainName},
		{"wall time", ms(median(plain)), ms(median(pilot)), fmt.Sprintf("%.2fx", ratio(pilot, plain))},
	})
}

// mbps is megabytes (10^6) per second.
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// alternate runs once for each of runs runs on both sides, alternating
// which side goes first, and logs each run; extra adds to its line.
func alternate(runs int, log *slog.Logger, plainName string, extra func(UpgradeRun) string, once func(run int, pilot bool) (*UpgradeRun, error)) (plain, pilot []UpgradeRun, err error) {
	log = logging.OrDiscard(log)
	for i := 0; i < runs; i++ {
		for _, p := range []bool{i%2 == 1, i%2 == 0} {
			r, err := once(i, p)
			if err != nil {
				return nil, nil, err
			}
			side := plainName
			if p {
				side = "etcdpilot"
				pilot = append(pilot, *r)
			} else {
				plain = append(plain, *r)
			}
			more := ""
			if extra != nil {
				more = extra(*r)
			}
			log.Info("run {run} {side} failed {failed}, longest stall {stall}, p99 {p99}, leader changes {leaderChanges}, took {took}{more}",
				"run", i+1, "side", side, "failed", r.Failed, "stall", ms(r.Gap), "p99", ms(r.P99), "leaderChanges", r.LeaderChanges, "took", r.Took.Round(time.Millisecond), "more", more)
			for _, e := range r.Errors {
				log.Info("    failed write: " + e)
			}
		}
	}
	return plain, pilot, nil
}
