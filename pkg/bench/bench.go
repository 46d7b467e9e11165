// Package bench measures etcdpilot against the plain tools on real
// clusters, side by side in one run, and prints the ratios.
package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
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
