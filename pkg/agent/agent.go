package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Agent runs the jobs of a configuration: for the one cluster named on
// the command line, or for each cluster the file lists.
type Agent struct {
	Config *Config
	// Session is the cluster named on the command line (the single-cluster
	// form); listed clusters get sessions of their own.
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
	// Configs and Runtime are the member configurations of the cluster
	// named on the command line (a sandbox's, a kubeadm node's manifest)
	// and the runtime that reads their files; the certificate files they
	// name are exported beside those of memberConfigs in the file.
	Configs []*memberconfig.Config
	Runtime runtime.Runtime

	m    *metrics
	runs []*run
}

// run is the agent's work for one cluster and what it knows of it.
type run struct {
	a    *Agent
	name string // the cluster's name, "" in the single-cluster form
	jobs Jobs
	sess *cluster.Session
	log  *slog.Logger

	mu      sync.Mutex
	last    map[string]time.Time // job → last successful backup
	leader  string
	health  map[string]string // what fails, by source ("checks", "backup NAME")
	known   map[string]bool   // members with series
	certsAt time.Time         // when certificates were last read
	leading bool              // this agent runs backups and defrags
	id      string            // the cluster's ID, once read
}

// Run serves /metrics and /healthz, runs the schedules until ctx ends,
// then waits for the runs under way and returns. ready, when set, is
// called with the listening address.
func (a *Agent) Run(ctx context.Context, ready func(addr string)) error {
	a.Log = logging.OrDiscard(a.Log)
	fleet := a.Config.Fleet()
	a.m = newMetrics(fleet, a.ages)
	b := printer.ReadBuild(a.Version, catalog.Freshness{})
	a.m.buildInfo.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	a.runs = nil
	for i := range a.Config.Clusters {
		c := &a.Config.Clusters[i]
		r := &run{a: a, name: c.Name, jobs: c.Jobs, sess: a.Session, log: a.Log,
			last: map[string]time.Time{}, health: map[string]string{}, known: map[string]bool{}}
		if c.Listed() {
			r.log = a.Log.With("cluster", c.Name)
			s, err := cluster.Open(c.Conn(), r.log)
			if err != nil {
				return fmt.Errorf("cluster %s: %w", c.Name, err)
			}
			defer s.Close()
			r.sess = s
		} else if a.Session == nil {
			return fmt.Errorf("the configuration lists no cluster: name one on the command line (--endpoints, --sandbox, --kubeadm), or list clusters in the file")
		}
		a.runs = append(a.runs, r)
	}
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
	jobs := 0
	var recording sync.WaitGroup
	for _, r := range a.runs {
		if err := r.schedule(ctx, c); err != nil {
			srv.Close()
			return err
		}
		jobs += len(r.jobs.Backups)
		// Each cluster starts on its own: one that does not answer
		// delays no other.
		go r.start(ctx)
		r.setLeader(!a.Config.Elects())
		if a.Config.Elects() {
			go r.elect(stop)
		}
		if ct := r.jobs.Continuous; ct != nil {
			recording.Add(1)
			go func() { defer recording.Done(); r.continuous(stop, ct) }()
		}
	}
	c.Start()
	a.Log.Info("agent serving /metrics and /healthz on {address}; {clusters} clusters, {jobs} backup jobs", "address", ln.Addr().String(), "clusters", len(a.runs), "jobs", jobs)
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-stop.Done()
	a.Log.Info("stopping: waiting for the runs under way")
	<-c.Stop().Done()
	recording.Wait() // each recorder flushes what it saw
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// schedule adds the cluster's jobs to the scheduler.
func (r *run) schedule(ctx context.Context, c *cron.Cron) error {
	for _, b := range r.jobs.Backups {
		b := b
		r.a.m.backupInterval.with(r.name, b.Name).Set(b.Schedule.Longest().Seconds())
		if _, err := c.AddJob(b.Schedule.Spec, r.once(b.Name, func() { r.backup(ctx, b) })); err != nil {
			return err
		}
	}
	if ch := r.jobs.Checks; ch != nil {
		if _, err := c.AddJob(ch.Schedule.Spec, r.once("checks", func() { r.check(ctx) })); err != nil {
			return err
		}
	}
	if d := r.jobs.Defrag; d != nil {
		if _, err := c.AddJob(d.Schedule.Spec, r.once("defrag", func() { r.defragRun(ctx, d) })); err != nil {
			return err
		}
	}
	return nil
}

// once wraps a job so that a run never starts while the previous one is
// under way (the skipped run is counted and logged).
func (r *run) once(name string, fn func()) cron.Job {
	var running sync.Mutex
	return cron.FuncJob(func() {
		if !running.TryLock() {
			r.a.m.skippedOverlapping.with(r.name, name).Inc()
			r.log.Warn("{job}: the previous run is still under way; this one is skipped", "job", name)
			return
		}
		defer running.Unlock()
		fn()
	})
}

// backup saves a snapshot into the job's store, verifies it and prunes.
func (r *run) backup(ctx context.Context, b Backup) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	if !r.leads() {
		// Another agent takes the backups: the age is the store's.
		r.refreshAge(ctx, b)
		return
	}
	start := time.Now()
	m := r.a.m
	m.backupLastAttempt.with(r.name, b.Name).Set(unix(start))
	err := r.backupOnce(ctx, b)
	if err != nil {
		m.backupLastOK.with(r.name, b.Name).Set(0)
		m.backupRuns.with(r.name, b.Name, "failure").Inc()
		r.setHealth("backup "+b.Name, fmt.Sprintf("backup %s into %s failed: %v", b.Name, b.Store, err))
		r.log.Error("backup {job} failed: {error}", "job", b.Name, "error", err)
		return
	}
	m.backupLastOK.with(r.name, b.Name).Set(1)
	m.backupRuns.with(r.name, b.Name, "success").Inc()
	m.backupDuration.with(r.name, b.Name).Set(time.Since(start).Seconds())
	m.backupLastSuccess.with(r.name, b.Name).Set(unix(time.Now()))
	r.setHealth("backup "+b.Name, "")
	r.mu.Lock()
	r.last[b.Name] = time.Now()
	r.mu.Unlock()
}

func (r *run) backupOnce(ctx context.Context, b Backup) error {
	dest := withSlash(b.Store)
	stores := r.a.Stores
	enc := snapshot.Encoding{Compress: b.Compress == "zstd", Recipients: b.Encrypt}
	sc, path, err := snapshot.Save(ctx, r.sess, dest, snapshot.SaveOptions{Version: r.a.Version, Encoding: enc, Stores: stores})
	if err != nil {
		return err
	}
	// The raw snapshot was verified before it was stored; the stored one
	// is read back and verified too, unless it is encrypted for a key the
	// agent does not hold.
	if len(b.Encrypt) == 0 || stores.AgeIdentity != "" {
		res, err := snapshot.Verify(ctx, path, snapshot.VerifyOptions{Stores: stores})
		if err != nil {
			return err
		}
		if !res.OK() {
			return fmt.Errorf("%s does not verify: %s", path, strings.Join(res.Problems, "; "))
		}
	}
	r.a.m.backupSize.with(r.name, b.Name).Set(float64(sc.Size))
	r.log.Info("backup {job}: {file} (revision {revision}, {size} bytes), verified", "job", b.Name, "file", path, "revision", sc.Revision, "size", sc.Size)
	p := snapshot.Policy{KeepLast: b.Keep.Last, KeepHourly: b.Keep.Hourly, KeepDaily: b.Keep.Daily}
	if p == (snapshot.Policy{}) {
		return nil
	}
	store, err := stores.Open(ctx, b.Store, false)
	if err != nil {
		return err
	}
	_, err = snapshot.Prune(ctx, store, p, false)
	return err
}

// check reads every member's status and the hash agreement.
func (r *run) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m := r.a.m
	cl, err := r.sess.StatusWithHashes(ctx)
	if err != nil {
		m.checkRuns.with(r.name, "failure").Inc()
		r.setHealth("checks", "status check failed: "+err.Error())
		r.log.Error("status check failed: {error}", "error", err)
		return
	}
	m.checkRuns.with(r.name, "success").Inc()
	m.checkLastSuccess.with(r.name).Set(unix(time.Now()))
	r.mu.Lock()
	m.members(r.name, cl, r.known)
	r.mu.Unlock()
	m.setHash(r.name, cl.Hash.Result)
	r.certificates(ctx, cl)
	m.alarms.reset(r.name)
	for _, kind := range []string{status.NoSpace, status.Corrupt} {
		m.alarms.with(r.name, kind).Set(float64(cl.Alarms.Count(kind)))
	}
	r.mu.Lock()
	if r.leader != "" && cl.Leader != "" && cl.Leader != r.leader {
		m.leaderChanges.with(r.name).Inc()
	}
	if cl.Leader != "" {
		r.leader = cl.Leader
	}
	r.mu.Unlock()
	if cl.Health != status.Healthy {
		r.setHealth("checks", fmt.Sprintf("cluster %s: %s", cl.Health, cl.Why()))
		return
	}
	r.setHealth("checks", "")
}

// setHealth records why a source fails, or that it no longer does.
func (r *run) setHealth(source, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if why == "" {
		delete(r.health, source)
		return
	}
	r.health[source] = why
}

// healthz answers 200 while the agent runs and nothing fails: the last
// check of each cluster found it healthy, each store was readable at
// start and each job's last backup succeeded; 503 with every reason
// otherwise.
func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	var why []string
	for _, r := range a.runs {
		r.mu.Lock()
		for _, w := range r.health {
			if r.name != "" {
				w = "cluster " + r.name + ": " + w
			}
			why = append(why, w)
		}
		r.mu.Unlock()
	}
	if len(why) > 0 {
		sort.Strings(why)
		http.Error(w, strings.Join(why, "\n"), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// start reads, once, what the cluster's stores already hold: each job's
// backup age starts from the newest snapshot of this cluster there (so
// the age is known from the start, not only after the first success of
// this process), and a store that cannot be read or written is named in
// /healthz at once; the other jobs go on.
func (r *run) start(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	id := r.clusterID(sctx)
	cancel()
	for _, b := range r.jobs.Backups {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t, err := newestOf(sctx, r.a.Stores, b.Store, id)
		cancel()
		if err != nil {
			r.setHealth("backup "+b.Name, fmt.Sprintf("backup %s: store %s: %v", b.Name, b.Store, err))
			r.log.Error("backup {job}: store {store}: {error}", "job", b.Name, "store", b.Store, "error", err)
			continue
		}
		if !t.IsZero() {
			r.mu.Lock()
			if r.last[b.Name].IsZero() {
				r.last[b.Name] = t
			}
			r.mu.Unlock()
		}
	}
}

// refreshAge reads a job's backup age from its store, as a standby agent
// sees the backups the leading one takes.
func (r *run) refreshAge(ctx context.Context, b Backup) {
	t, err := newestOf(ctx, r.a.Stores, b.Store, r.clusterID(ctx))
	if err != nil || t.IsZero() {
		return
	}
	r.mu.Lock()
	if t.After(r.last[b.Name]) {
		r.last[b.Name] = t
	}
	r.mu.Unlock()
}

// clusterID is the cluster's ID, read once ("" while the cluster does not
// answer): it tells this cluster's snapshots from others' in a store.
func (r *run) clusterID(ctx context.Context) string {
	r.mu.Lock()
	id := r.id
	r.mu.Unlock()
	if id != "" {
		return id
	}
	if cl, err := r.sess.Status(ctx); err == nil {
		r.mu.Lock()
		r.id = cl.ClusterID
		r.mu.Unlock()
		return cl.ClusterID
	}
	return ""
}

// newestOf is the time of the newest complete snapshot of the cluster
// (by its sidecar; a snapshot without one counts) in a store, which must
// be writable where the store can tell (a local directory, made when
// missing, as the first backup would).
func newestOf(ctx context.Context, stores snapshot.Stores, loc, clusterID string) (time.Time, error) {
	st, err := stores.Open(ctx, loc, true)
	if err != nil {
		return time.Time{}, err
	}
	if w, ok := st.(interface{ Writable() error }); ok {
		if err := w.Writable(); err != nil {
			return time.Time{}, err
		}
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
func (r *run) certificates(ctx context.Context, cl *status.Cluster) {
	if time.Since(r.certsAt) < 10*time.Minute {
		return
	}
	r.certsAt = time.Now()
	r.a.m.certExpiry.reset(r.name)
	// The command line's cluster (the single-cluster form) brings its
	// own member configurations and the runtime that reads their files.
	configs, rt := r.jobs.configs, runtime.Runtime(nil)
	if r.name == "" {
		configs, rt = slices.Concat(configs, r.a.Configs), r.a.Runtime
	}
	for _, c := range r.sess.Certificates(ctx, cl, configs, rt) {
		if !c.NotAfter.IsZero() {
			r.a.m.certExpiry.with(r.name, c.Kind, c.Member, c.Where).Set(unix(c.NotAfter))
		}
	}
}

// ages is each job's backup age, for the scrape.
func (a *Agent) ages() []age {
	var out []age
	for _, r := range a.runs {
		r.mu.Lock()
		for job, t := range r.last {
			out = append(out, age{r.name, job, time.Since(t).Seconds()})
		}
		r.mu.Unlock()
	}
	return out
}

// cronLogger makes cron's panics reach the log.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) {}
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg+": {error}", "error", err)
}
