package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Agent runs the jobs of one configuration against one cluster.
type Agent struct {
	Config  *Config
	Session *cluster.Session
	Version string
	Log     *slog.Logger
	// Catalog flags versions with defragmentation bugs; StateDir and
	// LockDir are where a defrag is journaled and locked, as by etcdpilot
	// defrag (LockDir empty: the default).
	Catalog           *catalog.Catalog
	StateDir, LockDir string
	// Stores opens the backup stores (S3 settings, the age identity).
	Stores snapshot.Stores

	m       *metrics
	mu      sync.Mutex
	last    map[string]time.Time // job → last successful backup
	leader  string
	health  string          // why /healthz fails, empty when fine
	known   map[string]bool // members with series
	certsAt time.Time       // when certificates were last read
}

// Run serves /metrics and /healthz, runs the schedules until ctx ends,
// then waits for the runs under way and returns. ready, when set, is
// called with the listening address.
func (a *Agent) Run(ctx context.Context, ready func(addr string)) error {
	a.Log = logging.OrDiscard(a.Log)
	a.last = map[string]time.Time{}
	a.known = map[string]bool{}
	a.m = newMetrics(a.ages)
	b := printer.ReadBuild(a.Version, catalog.Freshness{})
	a.m.buildInfo.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	for _, bk := range a.Config.Backups {
		a.m.backupInterval.WithLabelValues(bk.Name).Set(bk.Schedule.Longest().Seconds())
	}
	a.seedAges(ctx)
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", a.healthz)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	c := cron.New(cron.WithParser(parser), cron.WithChain(cron.Recover(cronLogger{a.Log})))
	// A stop (SIGTERM) lets the runs under way finish, each bounded by its
	// own timeout: they run on a context the stop does not cancel.
	stop := ctx
	ctx = context.WithoutCancel(ctx)
	for _, b := range a.Config.Backups {
		b := b
		if _, err := c.AddJob(b.Schedule.Spec, a.once(b.Name, func() { a.backup(ctx, b) })); err != nil {
			return err
		}
	}
	if ch := a.Config.Checks; ch != nil {
		if _, err := c.AddJob(ch.Schedule.Spec, a.once("checks", func() { a.check(ctx) })); err != nil {
			return err
		}
	}
	if d := a.Config.Defrag; d != nil {
		if _, err := c.AddJob(d.Schedule.Spec, a.once("defrag", func() { a.defragRun(ctx, d) })); err != nil {
			return err
		}
	}
	c.Start()
	a.Log.Info("agent serving /metrics and /healthz on {address}; {jobs} backup jobs", "address", ln.Addr().String(), "jobs", len(a.Config.Backups))
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-stop.Done()
	a.Log.Info("stopping: waiting for the runs under way")
	<-c.Stop().Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// once wraps a job so that a run never starts while the previous one is
// under way (the skipped run is counted and logged).
func (a *Agent) once(name string, fn func()) cron.Job {
	var running sync.Mutex
	return cron.FuncJob(func() {
		if !running.TryLock() {
			a.m.skippedOverlapping.WithLabelValues(name).Inc()
			a.Log.Warn("{job}: the previous run is still under way; this one is skipped", "job", name)
			return
		}
		defer running.Unlock()
		fn()
	})
}

// backup saves a snapshot into the job's store, verifies it and prunes.
func (a *Agent) backup(ctx context.Context, b Backup) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	start := time.Now()
	a.m.backupLastAttempt.WithLabelValues(b.Name).Set(unix(start))
	err := a.backupOnce(ctx, b)
	if err != nil {
		a.m.backupLastOK.WithLabelValues(b.Name).Set(0)
		a.m.backupRuns.WithLabelValues(b.Name, "failure").Inc()
		a.Log.Error("backup {job} failed: {error}", "job", b.Name, "error", err)
		return
	}
	a.m.backupLastOK.WithLabelValues(b.Name).Set(1)
	a.m.backupRuns.WithLabelValues(b.Name, "success").Inc()
	a.m.backupDuration.WithLabelValues(b.Name).Set(time.Since(start).Seconds())
	a.m.backupLastSuccess.WithLabelValues(b.Name).Set(unix(time.Now()))
	a.mu.Lock()
	a.last[b.Name] = time.Now()
	a.mu.Unlock()
}

func (a *Agent) backupOnce(ctx context.Context, b Backup) error {
	dest := b.Store
	if !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	enc := snapshot.Encoding{Compress: b.Compress == "zstd", Recipients: b.Encrypt}
	sc, path, err := snapshot.Save(ctx, a.Session, dest, snapshot.SaveOptions{Version: a.Version, Encoding: enc, Stores: a.Stores})
	if err != nil {
		return err
	}
	// The raw snapshot was verified before it was stored; the stored one
	// is read back and verified too, unless it is encrypted for a key the
	// agent does not hold.
	if len(b.Encrypt) == 0 || a.Stores.AgeIdentity != "" {
		r, err := snapshot.Verify(ctx, path, snapshot.VerifyOptions{Stores: a.Stores})
		if err != nil {
			return err
		}
		if !r.OK() {
			return fmt.Errorf("%s does not verify: %s", path, strings.Join(r.Problems, "; "))
		}
	}
	a.m.backupSize.WithLabelValues(b.Name).Set(float64(sc.Size))
	a.Log.Info("backup {job}: {file} (revision {revision}, {size} bytes), verified", "job", b.Name, "file", path, "revision", sc.Revision, "size", sc.Size)
	p := snapshot.Policy{KeepLast: b.Keep.Last, KeepHourly: b.Keep.Hourly, KeepDaily: b.Keep.Daily}
	if p == (snapshot.Policy{}) {
		return nil
	}
	store, err := a.Stores.Open(ctx, b.Store, false)
	if err != nil {
		return err
	}
	_, err = snapshot.Prune(ctx, store, p, false)
	return err
}

// check reads every member's status and the hash agreement.
func (a *Agent) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cl, err := a.Session.StatusWithHashes(ctx)
	if err != nil {
		a.m.checkRuns.WithLabelValues("failure").Inc()
		a.setHealth("status check failed: " + err.Error())
		a.Log.Error("status check failed: " + err.Error())
		return
	}
	a.m.checkRuns.WithLabelValues("success").Inc()
	a.m.checkLastSuccess.Set(unix(time.Now()))
	a.m.members(cl, a.known)
	a.m.setHash(cl.Hash.Result)
	a.certificates(ctx, cl)
	a.m.alarms.Reset()
	for _, kind := range []string{status.NoSpace, status.Corrupt} {
		a.m.alarms.WithLabelValues(kind).Set(float64(cl.Alarms.Count(kind)))
	}
	a.mu.Lock()
	if a.leader != "" && cl.Leader != "" && cl.Leader != a.leader {
		a.m.leaderChanges.Inc()
	}
	if cl.Leader != "" {
		a.leader = cl.Leader
	}
	a.mu.Unlock()
	if cl.Health != status.Healthy {
		a.setHealth(fmt.Sprintf("cluster %s: %s", cl.Health, cl.Why()))
		return
	}
	a.setHealth("")
}

func (a *Agent) setHealth(why string) {
	a.mu.Lock()
	a.health = why
	a.mu.Unlock()
}

// healthz answers 200 while the agent runs and its last check found the
// cluster healthy, 503 with the reason otherwise.
func (a *Agent) healthz(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	why := a.health
	a.mu.Unlock()
	if why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// seedAges starts each job's backup age from the newest snapshot of this
// cluster already in its store, so the age is there from the start, not
// only after the first success of this process.
func (a *Agent) seedAges(ctx context.Context) {
	var id string
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if cl, err := a.Session.Status(sctx); err == nil {
		id = cl.ClusterID
	}
	cancel()
	for _, b := range a.Config.Backups {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t, err := newestOf(sctx, a.Stores, b.Store, id)
		cancel()
		switch {
		case err != nil:
			a.Log.Warn("backup {job}: cannot read its store for the newest snapshot: {error}; its age starts at the first success", "job", b.Name, "error", err)
		case !t.IsZero():
			a.last[b.Name] = t
		}
	}
}

// newestOf is the time of the newest complete snapshot of the cluster
// (by its sidecar; a snapshot without one counts) in a store.
func newestOf(ctx context.Context, stores snapshot.Stores, loc, clusterID string) (time.Time, error) {
	st, err := stores.Open(ctx, loc, false)
	if err != nil {
		return time.Time{}, err
	}
	list, err := st.List(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, e := range list {
		if e.Incomplete != "" || (e.Sidecar != nil && clusterID != "" && e.Sidecar.ClusterID != clusterID) {
			continue
		}
		if e.Time.After(newest) {
			newest = e.Time
		}
	}
	return newest, nil
}

// certificates exports when each certificate the cluster uses expires,
// read every ten minutes (a TLS handshake per URL).
func (a *Agent) certificates(ctx context.Context, cl *status.Cluster) {
	if time.Since(a.certsAt) < 10*time.Minute {
		return
	}
	a.certsAt = time.Now()
	a.m.certExpiry.Reset()
	for _, c := range a.Session.Certificates(ctx, cl, nil, nil) {
		if !c.NotAfter.IsZero() {
			a.m.certExpiry.WithLabelValues(c.Kind, c.Member, c.Where).Set(unix(c.NotAfter))
		}
	}
}

// ages is each job's backup age, for the scrape.
func (a *Agent) ages() map[string]float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]float64{}
	for job, t := range a.last {
		out[job] = time.Since(t).Seconds()
	}
	return out
}

// cronLogger makes cron's panics reach the log.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) {}
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg+": {error}", "error", err)
}
