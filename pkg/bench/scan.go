package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/logging"
)

// ScanOptions configure the repo scan benchmark.
type ScanOptions struct {
	Files int
	Runs  int
	Root  string
	// Etcdpilot is the etcdpilot binary to time, a process each run.
	Etcdpilot string
	Log       *slog.Logger
}

// ScanResult holds the wall times of both sides.
type ScanResult struct {
	Files, Pins    int
	Ripgrep, Pilot []time.Duration
}

// rgArgs is the search a maintainer runs by hand: every line naming etcd
// and a 3.x.y version, vendor/ and node_modules/ skipped like the scan.
var rgArgs = []string{"--no-ignore", "--hidden", "-g", "!.git", "-g", "!vendor", "-g", "!node_modules", "-n", "(?i)etcd.*3\\.[0-9]+\\.[0-9]+"}

// Scan times etcdpilot repo scan against ripgrep over one generated tree
// of o.Files files, alternating, the page cache warm for both.
func Scan(ctx context.Context, o ScanOptions) (*ScanResult, error) {
	rg, err := exec.LookPath("rg")
	if err != nil {
		return nil, fmt.Errorf("bench scan compares with ripgrep, which is not installed: apt-get install ripgrep")
	}
	log := logging.OrDiscard(o.Log)
	log.Info("writing {files} files under {dir} ...", "files", o.Files, "dir", o.Root)
	pins, err := MakeTree(o.Root, o.Files)
	if err != nil {
		return nil, err
	}
	res := &ScanResult{Files: o.Files, Pins: pins}
	timed := func(name string, args ...string) (time.Duration, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return time.Since(start), nil
	}
	// One untimed run each fills the page cache.
	for i := -1; i < o.Runs; i++ {
		d1, err := timed(rg, append(rgArgs, o.Root)...)
		if err != nil {
			return nil, err
		}
		d2, err := timed(o.Etcdpilot, "repo", "scan", o.Root, "-w", "json")
		if err != nil {
			return nil, err
		}
		if i < 0 {
			continue
		}
		res.Ripgrep, res.Pilot = append(res.Ripgrep, d1), append(res.Pilot, d2)
		log.Info("run {run}: ripgrep {ripgrep}, etcdpilot {etcdpilot}", "run", i+1, "ripgrep", ms(d1), "etcdpilot", ms(d2))
	}
	return res, nil
}

// Ratio is etcdpilot's median wall time over ripgrep's.
func (r *ScanResult) Ratio() float64 { return ratio(r.Pilot, r.Ripgrep) }

// Table writes the medians side by side.
func (r *ScanResult) Table(w io.Writer) error {
	fmt.Fprintf(w, "scan of %d files (%d pins), median of %d runs each\n\n", r.Files, r.Pins, len(r.Pilot))
	return wallTimes(w, "RIPGREP (etcd.*3.x.y)", "ETCDPILOT REPO SCAN", "RIPGREP", r.Ripgrep, r.Pilot)
}
