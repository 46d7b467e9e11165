package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

// DepsOptions configure the deps check benchmark.
type DepsOptions struct {
	// Dir is the module; To the etcd release to move it to.
	Dir, To string
	Runs    int
	Catalog *catalog.Catalog
	Log     *slog.Logger
}

// DepsResult holds the wall times of deps check --to and of the same move
// done by hand in a copy.
type DepsResult struct {
	Module   string
	To       string
	Commands []string
	Plain    []time.Duration
	Pilot    []time.Duration
}

// Deps times deps check --to (the offline checks, then the prediction)
// against what a person does to learn the same: copy the module, go get
// the same modules, go mod tidy. The module cache is warmed by one
// untimed run of each; the sides alternate.
func Deps(ctx context.Context, o DepsOptions) (*DepsResult, error) {
	gomod := filepath.Join(o.Dir, "go.mod")
	res := &DepsResult{Module: gomod, To: o.To}
	log := logging.OrDiscard(o.Log)
	pilot := func() (time.Duration, error) {
		start := time.Now()
		r, err := repo.CheckDeps(ctx, gomod, repo.DepsOptions{Catalog: o.Catalog})
		if err != nil {
			return 0, err
		}
		sim, err := repo.Simulate(ctx, r, o.To, repo.SimulateOptions{})
		if err != nil {
			return 0, err
		}
		if sim.Method != repo.MethodGo {
			return 0, fmt.Errorf("%s has no Go code beside it: the prediction cannot use the go command there", gomod)
		}
		res.Commands = sim.Commands
		return time.Since(start), nil
	}
	plain := func() (time.Duration, error) {
		if len(res.Commands) == 0 {
			return 0, fmt.Errorf("no go get to repeat")
		}
		start := time.Now()
		work, err := os.MkdirTemp("", "etcdpilot-bench-deps-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(work)
		cp := filepath.Join(work, "m")
		steps := [][]string{{"cp", "-r", o.Dir, cp}, append([]string{"go"}, strings.Fields(strings.TrimPrefix(res.Commands[0], "go "))...), {"go", "mod", "tidy"}}
		for _, s := range steps {
			cmd := exec.CommandContext(ctx, s[0], s[1:]...)
			cmd.Dir = work
			if s[0] == "go" {
				cmd.Dir = cp
			}
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				return 0, fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
			}
		}
		return time.Since(start), nil
	}
	for i := -1; i < o.Runs; i++ {
		sides := []func() (time.Duration, error){pilot, plain}
		if i%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		var ds [2]time.Duration
		for k, side := range sides {
			d, err := side()
			if err != nil {
				return nil, err
			}
			ds[k] = d
		}
		if i%2 == 1 {
			ds[0], ds[1] = ds[1], ds[0]
		}
		if i < 0 {
			continue // warms the module cache
		}
		res.Pilot, res.Plain = append(res.Pilot, ds[0]), append(res.Plain, ds[1])
		log.Info("run {run}: deps check --to {pilot}, by hand {plain}", "run", i+1, "pilot", ms(ds[0]), "plain", ms(ds[1]))
	}
	return res, nil
}

// Table writes both sides' median wall time and the ratio.
func (r *DepsResult) Table(w io.Writer) error {
	fmt.Fprintf(w, "%s moved to etcd %s, median of %d runs each, module cache warm\n", r.Module, r.To, len(r.Pilot))
	p, q := median(r.Pilot), median(r.Plain)
	return printer.Table(w, [][]string{
		{"", "WALL"},
		{"cp -r + " + strings.Join(r.Commands, " + "), ms(q)},
		{"etcdpilot deps check --to (offline checks + the same in a copy)", ms(p)},
		{"ratio (etcdpilot / by hand)", fmt.Sprintf("%.2fx", p.Seconds()/q.Seconds())},
	})
}
