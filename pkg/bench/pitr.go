package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// PITROptions configure the continuous-backup benchmark.
type PITROptions struct {
	Version string
	Members int
	// Rate writes/s for Duration, without and with the recorder (two
	// halves of each, alternating).
	Rate     int
	Duration time.Duration
	Flush    time.Duration
	// BaseSize fills the database before the base snapshot; Revisions
	// are written after it (as fast as 8 writers go) for the restore's
	// replay: an hour at 200 writes/s is 720,000.
	BaseSize  int64
	Revisions int
	ValueSize int
	Root      string
	// Store is the directory the recorder writes to while the latency is
	// measured (default: under Root, on etcd's own disk).
	Store    string
	Binaries *binaries.Manager
	Log      *slog.Logger
	Progress io.Writer
}

// PITRResult is what the benchmark measured.
type PITRResult struct {
	Version  string        `json:"version"`
	Members  int           `json:"members"`
	Rate     int           `json:"rate"`
	Duration time.Duration `json:"duration"`
	Flush    time.Duration `json:"flush"`
	// Write latencies without and with the recorder.
	WriteP50Plain, WriteP99Plain   time.Duration
	WriteP50Record, WriteP99Record time.Duration
	// RPO is the newest stored revision's age, sampled every 50 ms while
	// recording under the load.
	RPOP50, RPOP99, RPOMax time.Duration
	RPOSamples             int
	Segments               int   `json:"segments"`
	SegmentBytes           int64 `json:"segmentBytes"`
	// The restore: the base alone (etcdutl's restore of the snapshot)
	// against the base plus Revisions (the rebuild, then the same restore).
	BaseDB       int64         `json:"baseDB"`
	Revisions    int           `json:"revisions"`
	HistoryBytes int64         `json:"historyBytes"`
	PlainRestore time.Duration `json:"plainRestore"`
	Rebuild      time.Duration `json:"rebuild"`
	PointRestore time.Duration `json:"pointRestore"`
	Proof        string        `json:"proof"`
}

// PITR measures continuous backup on a sandbox: write latency at Rate
// without and with the recorder, the recovery point while recording, and
// the restore of a base plus Revisions against the base alone.
func PITR(ctx context.Context, o PITROptions) (*PITRResult, error) {
	log := logging.OrDiscard(o.Log)
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: "bench-pitr", Members: o.Members, Versions: []string{o.Version},
		ExtraFlags: []string{fmt.Sprintf("--quota-backend-bytes=%d", 2*o.BaseSize+2<<30)}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	s, err := cluster.Open(st.Conn(), log)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cli, err := st.Conn().Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	res := &PITRResult{Version: o.Version, Members: o.Members, Rate: o.Rate, Duration: o.Duration, Flush: o.Flush, Revisions: o.Revisions}
	dir := filepath.Join(o.Root, "store")
	if o.Store != "" {
		dir = filepath.Join(o.Store, "etcdpilot-bench-pitr")
		os.RemoveAll(dir) // a run stopped before its end
		defer os.RemoveAll(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	store := snapshot.Dir{Path: dir}

	// The recorder, started and stopped around the halves that use it.
	var mu sync.Mutex
	var newest time.Time // LastSeen of the newest stored segment
	rec := pitr.Recorder{Flush: o.Flush, Stored: func(h *pitr.Header, n int) {
		mu.Lock()
		newest = h.LastSeen
		res.Segments++
		res.SegmentBytes += int64(n)
		mu.Unlock()
	}}
	follow := func(ctx context.Context) (stop func() error) {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		f := &pitr.Follow{Session: s, Store: store, Location: dir, Recorder: rec, Log: log}
		go func() { done <- f.Run(fctx) }()
		return func() error { cancel(); return <-done }
	}

	var plain, recorded []time.Duration
	var rpo []time.Duration
	half := o.Duration / 2
	for i := range 4 {
		with := i%2 == 1
		var stop func() error
		if with {
			mu.Lock()
			newest = time.Time{}
			mu.Unlock()
			stop = follow(ctx)
			if err := waitSegment(ctx, &mu, &newest, cli); err != nil {
				stop()
				return nil, err
			}
		}
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		if with {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for sctx.Err() == nil {
					select {
					case <-sctx.Done():
					case now := <-t.C:
						mu.Lock()
						rpo = append(rpo, now.Sub(newest))
						mu.Unlock()
					}
				}
			}()
		}
		lat, err := paced(ctx, cli, o.Rate, half, fmt.Sprintf("/bench/pitr/%d/", i))
		cancel()
		wg.Wait()
		if with {
			if serr := stop(); err == nil {
				err = serr
			}
		}
		if err != nil {
			return nil, err
		}
		if with {
			recorded = append(recorded, lat...)
		} else {
			plain = append(plain, lat...)
		}
		log.Info("pitr: {phase} half {i}: {n} writes", "phase", map[bool]string{false: "without", true: "with"}[with], "i", i/2+1, "n", len(lat))
	}
	res.WriteP50Plain, res.WriteP99Plain = pct(plain, 50), pct(plain, 99)
	res.WriteP50Record, res.WriteP99Record = pct(recorded, 50), pct(recorded, 99)
	res.RPOP50, res.RPOP99, res.RPOMax, res.RPOSamples = pct(rpo, 50), pct(rpo, 99), pct(rpo, 100), len(rpo)

	// The restore: a base of BaseSize, then Revisions recorded after it.
	if o.BaseSize > 0 {
		if err := fillRandom(ctx, st, o.BaseSize, o.ValueSize, o.Progress); err != nil {
			return nil, err
		}
	}
	hist := snapshot.Dir{Path: filepath.Join(o.Root, "history")}
	if err := os.MkdirAll(hist.Path, 0o700); err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &pitr.Follow{Session: s, Store: hist, Location: hist.Path, Recorder: pitr.Recorder{Flush: o.Flush}, Log: log}
	done := make(chan error, 1)
	go func() { done <- f.Run(fctx) }()
	var chains []*pitr.Chain
	if err := waitFor(ctx, func() bool { chains, _ = pitr.Chains(ctx, hist, ""); return len(chains) > 0 }); err != nil {
		return nil, err
	}
	if err := Load(ctx, st.Conn(), LoadOptions{Keys: o.Revisions, ValueSize: 200, Prefix: "/bench/history/", Title: fmt.Sprintf("writing %d revisions after the base", o.Revisions)}, o.Progress); err != nil {
		return nil, err
	}
	last, err := cli.Get(ctx, "/bench/history/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, func() bool {
		chains, _ = pitr.Chains(ctx, hist, "")
		return len(chains) > 0 && chains[len(chains)-1].Through >= last.Header.Revision
	}); err != nil {
		return nil, err
	}
	cancel()
	if err := <-done; err != nil {
		return nil, err
	}
	ch := chains[len(chains)-1]
	for _, sg := range ch.Segments {
		if fi, err := os.Stat(hist.File(sg.Name)); err == nil {
			res.HistoryBytes += fi.Size()
		}
	}
	baseFile := hist.File(ch.Base.Name)
	if fi, err := os.Stat(baseFile); err == nil {
		res.BaseDB = fi.Size()
	}
	restore := func(file, name string) (time.Duration, error) {
		start := time.Now()
		target := snapshot.Target{Name: "m1", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: filepath.Join(o.Root, name)}
		_, err := snapshot.RestoreDataDirs(file, []snapshot.Target{target}, snapshot.RestoreOptions{InitialCluster: "m1=http://127.0.0.1:2380", EtcdVersion: o.Version})
		d := time.Since(start)
		os.RemoveAll(target.DataDir)
		return d, err
	}
	if res.PlainRestore, err = restore(baseFile, "plain"); err != nil {
		return nil, err
	}
	start := time.Now()
	out := filepath.Join(o.Root, "point.db")
	pt, err := pitr.Rebuilt(ctx, pitr.Request{Store: hist, Revision: ch.Through, Out: out, Source: s})
	if err != nil {
		return nil, err
	}
	res.Rebuild = time.Since(start)
	res.Proof = pt.Proof.State
	d, err := restore(out, "point")
	if err != nil {
		return nil, err
	}
	res.PointRestore = res.Rebuild + d
	return res, nil
}

// paced writes one small value at a time at rate/s for d, one after the
// other (a write that takes longer delays the next), and returns each
// write's latency.
func paced(ctx context.Context, cli *clientv3.Client, rate int, d time.Duration, prefix string) ([]time.Duration, error) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var out []time.Duration
	for i := 0; time.Now().Before(end); i++ {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cli.Put(wctx, fmt.Sprintf("%s%06d", prefix, i%1000), "0123456789abcdef0123456789abcdef")
		cancel()
		if err != nil {
			return out, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// waitSegment waits for the recorder's first segment (a write makes one).
func waitSegment(ctx context.Context, mu *sync.Mutex, newest *time.Time, cli *clientv3.Client) error {
	return waitFor(ctx, func() bool {
		cli.Put(ctx, "/bench/pitr/tick", "t")
		mu.Lock()
		defer mu.Unlock()
		return !newest.IsZero()
	})
}

func waitFor(ctx context.Context, ok func() bool) error {
	return poll.Until(ctx, 100*time.Millisecond, 5*time.Minute, func(context.Context) (bool, error) { return ok(), nil })
}

// pct is the p-th percentile (100: the maximum).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// Table lays the figures out side by side.
func (r *PITRResult) Table(w io.Writer) error {
	fmt.Fprintf(w, "%d members, etcd %s; %d writes/s for %s (alternating halves); flush %s\n\n", r.Members, r.Version, r.Rate, r.Duration, r.Flush)
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", float64(a)/float64(b))
	}
	rows := [][]string{
		{"", "WITHOUT", "WITH CONTINUOUS BACKUP", "RATIO"},
		{"write latency p50", ms(r.WriteP50Plain), ms(r.WriteP50Record), ratio(r.WriteP50Record, r.WriteP50Plain)},
		{"write latency p99", ms(r.WriteP99Plain), ms(r.WriteP99Record), ratio(r.WriteP99Record, r.WriteP99Plain)},
		{"recovery point (newest stored revision's age) p50", "1h (hourly job)", ms(r.RPOP50), ""},
		{"recovery point p99", "", ms(r.RPOP99), ""},
		{"recovery point max", "", ms(r.RPOMax), fmt.Sprintf("%d samples, %d segments, %s", r.RPOSamples, r.Segments, progress.Bytes(r.SegmentBytes))},
	}
	if err := printer.Table(w, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nrestore of a %s base: %s; plus %d revisions (%s of segments): %s (rebuild %s), %s; HashKV proof: %s\n",
		progress.Bytes(r.BaseDB), r.PlainRestore.Round(time.Millisecond), r.Revisions, progress.Bytes(r.HistoryBytes),
		r.PointRestore.Round(time.Millisecond), r.Rebuild.Round(time.Millisecond), ratio(r.PointRestore, r.PlainRestore), r.Proof)
	return nil
}
