package defrag

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// ApplyOptions describe a run.
type ApplyOptions struct {
	Options
	// Runtime, when there is one, restarts a member that a crash left
	// down (the engine's recovery path).
	Runtime     runtime.Runtime
	JournalPath string
	LockDir     string
	Resume      bool
	GateTimeout time.Duration
	// Timeout bounds one member's defragmentation.
	Timeout   time.Duration
	Log       *slog.Logger
	Observers []engine.Observer
}

// Report is what a run did.
type Report struct {
	// Kind is "defrag" or "space-recover".
	Kind    string        `json:"kind"`
	Plan    *Plan         `json:"plan,omitempty"`
	Journal string        `json:"journal"`
	State   string        `json:"state"`
	Error   string        `json:"error,omitempty"`
	Took    time.Duration `json:"took"`
	Before  []Member      `json:"before,omitempty"`
	After   []Member      `json:"after,omitempty"`
	// Alarms are the alarms raised afterwards.
	Alarms  status.Alarms  `json:"alarms,omitempty"`
	Entries []engine.Entry `json:"steps"`
}

func (o ApplyOptions) kind() string {
	if o.Space {
		return "space-recover"
	}
	return "defrag"
}

// Apply plans (or resumes) and runs the defragmentation on the engine.
func Apply(ctx context.Context, o ApplyOptions) (*Report, error) {
	log := logging.OrDiscard(o.Log)
	rep := &Report{Kind: o.kind(), Journal: o.JournalPath}
	env := &engine.Env{Session: o.Session, Runtime: o.Runtime, Log: log, GateTimeout: o.GateTimeout,
		Observers: append([]engine.Observer{engine.Progress{Log: log}}, o.Observers...)}
	// The plan is made again on a resume too: the report shows the
	// members before, and the steps need its choices.
	plan := func(ctx context.Context) error {
		p, err := MakePlan(ctx, o.Options)
		if err != nil {
			return err
		}
		rep.Plan, rep.Before = p, p.Members
		env.Defrag = engine.DefragOptions{Keep: p.Keep, Timeout: o.Timeout, HandOff: p.Leader == LeaderHandOff, Alarm: alarmFor(o.Space)}
		return nil
	}
	c := engine.Change{Kind: o.kind(), JournalPath: o.JournalPath, LockDir: o.LockDir, Resume: o.Resume, Env: env,
		CarryOn: fmt.Sprintf("the %s stopped here (--resume carries on)", o.kind())}
	c.New = func(ctx context.Context, id string) (*engine.Journal, error) {
		if err := plan(ctx); err != nil {
			return nil, err
		}
		p := rep.Plan
		if p.Refusal != "" {
			return nil, fmt.Errorf("%s; nothing was changed", p.Refusal)
		}
		target := fmt.Sprintf("%d members, leader %s", len(p.Chosen()), p.Leader)
		j := engine.NewJournal(o.JournalPath, o.kind(), p.ClusterID, target, versions(p))
		j.Planned = steps(p, o.Space)
		return j, nil
	}
	c.Prepare = func(ctx context.Context, resumed bool) (func(context.Context) error, error) {
		if resumed {
			return nil, plan(ctx)
		}
		return nil, nil
	}
	out, runErr := engine.Run(ctx, c)
	if out == nil {
		return nil, runErr
	}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	rep.State, rep.Entries, rep.Took = out.State, out.Journal.Entries, out.Took
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if after, err := MakePlan(actx, Options{Session: o.Session, Leader: o.Leader}); err == nil {
		rep.After, rep.Alarms = after.Members, after.Alarms
	}
	return rep, runErr
}

// steps: the compaction, each chosen member (leader last), the disarm.
func steps(p *Plan, space bool) []engine.Step {
	var out []engine.Step
	if p.Compact {
		out = append(out, engine.Step{Action: engine.Compact})
	}
	for _, m := range p.Chosen() {
		out = append(out, engine.Step{Action: engine.Defrag, Member: m.Name, Version: m.Version})
	}
	if space {
		out = append(out, engine.Step{Action: engine.Disarm})
	}
	return out
}

func versions(p *Plan) map[string]string {
	out := map[string]string{}
	for _, m := range p.Members {
		out[m.Name] = m.Version
	}
	return out
}

func alarmFor(space bool) string {
	if space {
		return status.NoSpace
	}
	return ""
}

// ParseBytes reads a size with its unit: 200MiB, 1.5GiB, 500MB, 4096B. A
// bare number is refused: 45 could mean anything.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err == nil && f < 0 {
				return 0, fmt.Errorf("size %q is negative: give the free space that makes a member worth defragmenting, e.g. 200MiB", s)
			}
			if err == nil {
				return int64(f * u.mult), nil
			}
			break
		}
	}
	return 0, fmt.Errorf("size %q: give a number with its unit, e.g. 200MiB, 1GiB, 500MB", s)
}

// Fragmentation reads a percentage with its sign: 45%.
func Fragmentation(s string) (float64, error) {
	n, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if ok && err == nil && (f < 0 || f > 100) {
		return 0, fmt.Errorf("fragmentation %q is outside 0%% to 100%%", s)
	}
	if !ok || err != nil {
		return 0, fmt.Errorf("fragmentation %q: give a percentage with its sign, from 0%% to 100%%, e.g. 45%%", s)
	}
	return f, nil
}
