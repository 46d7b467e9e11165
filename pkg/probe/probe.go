// Package probe measures availability while a cluster changes: a writer
// commits a steady stream of writes and a reader reads them back, both
// linearizable. Afterwards it reports the longest write stall, failed
// writes, latency percentiles and leader changes, checks the history for
// linearizability with porcupine, checks that every acknowledged write is
// still readable, and removes its keys.
package probe

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// Options tune a probe.
type Options struct {
	// Rate is writes per second (default 200).
	Rate int
	// Timeout bounds each request (default 10s, like a patient client).
	Timeout time.Duration
	// Prefix holds the probe's keys (default /etcdpilot/probe/<start time>/).
	Prefix string
	// HealthChecked makes the probe a client that skips members whose
	// gRPC health says NOT_SERVING (conn.Config.HealthChecked).
	HealthChecked bool
}

// Op is one request in the history.
type Op struct {
	Write   bool
	Value   int64 // written, or read
	Call    time.Time
	Return  time.Time
	Err     error
	Unknown bool // a write whose outcome is unknown (error or timeout)
	// Retries counts attempts refused before they entered the raft log.
	Retries int
}

// Probe runs until Stop.
type Probe struct {
	cli    *clientv3.Client
	opts   Options
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ops    []Op
	start  time.Time
	term0  uint64
	cfg    conn.Config
}

func (o *Options) defaults() {
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = fmt.Sprintf("/etcdpilot/probe/%d/", time.Now().UnixNano())
	}
}

// Start begins writing and reading.
func Start(ctx context.Context, cfg conn.Config, opts Options) (*Probe, error) {
	opts.defaults()
	cfg.HealthChecked = opts.HealthChecked
	cli, err := cfg.Client()
	if err != nil {
		return nil, err
	}
	p := &Probe{cli: cli, opts: opts, start: time.Now(), cfg: cfg}
	p.term0, _ = MaxTerm(ctx, cfg)
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(2)
	go p.writer(ctx)
	go p.reader(ctx)
	return p, nil
}

func (p *Probe) reg() string          { return p.opts.Prefix + "reg" }
func (p *Probe) key(seq int64) string { return p.opts.Prefix + "w/" + fmt.Sprintf("%012d", seq) }

func (p *Probe) record(op Op) {
	p.mu.Lock()
	p.ops = append(p.ops, op)
	p.mu.Unlock()
}

// writer commits seq to the register and to its own key, one write at a
// time, at the configured rate.
func (p *Probe) writer(ctx context.Context) {
	defer p.wg.Done()
	tick := time.NewTicker(time.Second / time.Duration(p.opts.Rate))
	defer tick.Stop()
	for seq := int64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		v := strconv.FormatInt(seq, 10)
		op := Op{Write: true, Value: seq, Call: time.Now()}
		rctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
		var err error
		for {
			_, err = p.cli.Txn(rctx).Then(clientv3.OpPut(p.reg(), v), clientv3.OpPut(p.key(seq), v)).Commit()
			if !conn.ProposalDropped(err) || rctx.Err() != nil {
				break
			}
			op.Retries++
		}
		cancel()
		op.Return, op.Err, op.Unknown = time.Now(), err, err != nil
		p.record(op)
	}
}

// reader reads the register every 20 ms.
func (p *Probe) reader(ctx context.Context) {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		op := Op{Call: time.Now()}
		rctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
		resp, err := p.cli.Get(rctx, p.reg())
		cancel()
		op.Return, op.Err = time.Now(), err
		if err == nil && len(resp.Kvs) == 1 {
			op.Value, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
		}
		if err == nil {
			p.record(op)
		}
	}
}

// Result sums a probe up.
type Result struct {
	Duration     time.Duration `json:"duration"`
	Writes       int           `json:"writes"`
	FailedWrites int           `json:"failedWrites"`
	// RetriedWrites succeeded after etcd refused them before they entered
	// the log (a leader drops proposals while leadership moves).
	RetriedWrites int           `json:"retriedWrites"`
	Reads         int           `json:"reads"`
	LongestGap    time.Duration `json:"longestWriteGap"`
	// LongestGapEnd is when the write that ended the longest gap returned.
	LongestGapEnd time.Time     `json:"longestWriteGapEnd"`
	P50           time.Duration `json:"p50"`
	P99           time.Duration `json:"p99"`
	Max           time.Duration `json:"max"`
	LeaderChanges uint64        `json:"leaderChanges"`
	// Lost lists acknowledged writes that could not be read afterwards.
	Lost         []int64  `json:"lost"`
	Linearizable bool     `json:"linearizable"`
	CheckNote    string   `json:"checkNote,omitempty"`
	Errors       []string `json:"errors,omitempty"`
	ops          []Op
}

// Stop ends the probe, checks its history and removes its keys.
func (p *Probe) Stop(ctx context.Context) *Result {
	p.cancel()
	p.wg.Wait()
	defer p.cli.Close()
	r := summarize(p.ops, time.Since(p.start))
	if t, err := MaxTerm(ctx, p.cfg); err == nil && p.term0 > 0 && t >= p.term0 {
		r.LeaderChanges = t - p.term0
	}
	r.Lost = p.lost(ctx)
	r.Linearizable, r.CheckNote = Linearizable(p.ops)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := p.cli.Delete(dctx, p.opts.Prefix, clientv3.WithPrefix()); err != nil {
		r.Errors = append(r.Errors, "could not remove the probe keys under "+p.opts.Prefix+": "+err.Error())
	}
	return r
}

// Halt stops the probe without asking the cluster anything more (it may
// be gone) and returns every operation it made. Write n went to the key
// Options.Prefix + "w/" + n as twelve digits, and to Prefix + "reg".
func (p *Probe) Halt() []Op {
	p.cancel()
	p.wg.Wait()
	p.cli.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ops)
}

// lost returns acknowledged writes whose keys are missing.
func (p *Probe) lost(ctx context.Context) []int64 {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := p.cli.Get(lctx, p.opts.Prefix+"w/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	lost := []int64{}
	for _, op := range p.ops {
		if op.Write && op.Err == nil && !have[p.key(op.Value)] {
			lost = append(lost, op.Value)
		}
	}
	return lost
}

func summarize(ops []Op, d time.Duration) *Result {
	r := &Result{Duration: d, ops: ops, Lost: []int64{}}
	var lat []time.Duration
	var last, end time.Time
	for _, op := range ops {
		if !op.Write {
			r.Reads++
			continue
		}
		r.Writes++
		if op.Retries > 0 {
			r.RetriedWrites++
		}
		if op.Return.After(end) {
			end = op.Return
		}
		if op.Err != nil {
			r.FailedWrites++
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, fmt.Sprintf("%v (sent %s, failed after %s)", op.Err, op.Call.Format("15:04:05.000"), op.Return.Sub(op.Call).Round(time.Millisecond)))
			}
			continue
		}
		l := op.Return.Sub(op.Call)
		lat = append(lat, l)
		if !last.IsZero() && op.Return.Sub(last) > r.LongestGap {
			r.LongestGap, r.LongestGapEnd = op.Return.Sub(last), op.Return
		}
		last = op.Return
	}
	// A write still hanging when the others stopped ends a gap too.
	if !last.IsZero() && end.Sub(last) > r.LongestGap {
		r.LongestGap, r.LongestGapEnd = end.Sub(last), end
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		r.P50 = lat[n/2]
		r.P99 = lat[min(n-1, n*99/100)]
		r.Max = lat[n-1]
	}
	return r
}

// MaxTerm returns the highest raft term any member reports.
func MaxTerm(ctx context.Context, cfg conn.Config) (uint64, error) {
	var max uint64
	var lastErr error
	for _, ep := range cfg.Endpoints {
		c, err := cfg.ForEndpoint(ep).Client()
		if err != nil {
			lastErr = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Status(cctx, ep)
		cancel()
		c.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if st.RaftTerm > max {
			max = st.RaftTerm
		}
	}
	if max == 0 {
		return 0, lastErr
	}
	return max, nil
}
