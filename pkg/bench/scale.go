package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// ScaleOptions configure the scale benchmark.
type ScaleOptions struct {
	From, To  string
	Sizes     []int64
	Members   int
	ValueSize int
	Root      string
	Binaries  *binaries.Manager
	// Etcdpilot is the binary to time, a process per command.
	Etcdpilot string
	Log       *slog.Logger
	Progress  io.Writer
}

// ScaleRow is one command on one database size.
type ScaleRow struct {
	Size    int64         `json:"size"`    // the size asked for
	DBSize  int64         `json:"dbSize"`  // the first member's, measured
	DBTotal int64         `json:"dbTotal"` // every member's together (their files differ), measured
	Command string        `json:"command"`
	Wall    time.Duration `json:"wall"`
	MaxRSS  int64         `json:"maxRSS"`  // bytes
	MaxAnon int64         `json:"maxAnon"` // bytes: the peak of RssAnon (RSS without mapped files)
	Sent    int64         `json:"sent"`    // bytes the members sent (their gRPC counters)
	PeakTmp int64         `json:"peakTmp"` // bytes, in the command's scratch directories
	Note    string        `json:"note,omitempty"`
}

// ScaleResult holds every size's rows.
type ScaleResult struct {
	From    string     `json:"from"`
	To      string     `json:"to"`
	Members int        `json:"members"`
	Rows    []ScaleRow `json:"rows"`
}

// Scale fills sandboxes of From to each size with incompressible values
// (kubeadm's --snapshot-count=10000, a quota above the size), settles
// the members' memory (small writes, then a restart each: see settle),
// compacts them at the head as kube-apiserver does, and runs,
// each as its own process: etcdctl endpoint status and hashkv --cluster
// and snapshot save of one member (the plain tools), then etcdpilot
// status, upgrade plan (through the sandbox runtime, which reads the
// backends' pages, and through --endpoints only, which streams them) and
// upgrade apply to To. Each command starts with the members' databases
// in the page cache, as on their own hosts (read back when a command
// before pushed them out; a row says when they did not fit). Each row
// has the wall time, the process's maximum RSS, the bytes the members
// sent and the peak size of its scratch directories; apply's member
// restarts come from its journal.
func Scale(ctx context.Context, o ScaleOptions) (*ScaleResult, error) {
	log := logging.OrDiscard(o.Log)
	etcdctl, err := tool(ctx, o.Binaries, o.From, "etcdctl")
	if err != nil {
		return nil, err
	}
	if _, err := o.Binaries.Install(ctx, o.To, binaries.Options{}); err != nil {
		return nil, err
	}
	res := &ScaleResult{From: o.From, To: o.To, Members: o.Members}
	for i, size := range o.Sizes {
		if free, _ := fsutil.FreeBytes(o.Root); free < need(size, o.Members) {
			res.Rows = append(res.Rows, ScaleRow{Size: size, Note: fmt.Sprintf("skipped: %s free, %s needed", progress.Bytes(free), progress.Bytes(need(size, o.Members)))})
			continue
		}
		rows, err := scaleOne(ctx, o, etcdctl, fmt.Sprintf("bench-scale-%d", i+1), size, log)
		res.Rows = append(res.Rows, rows...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// need is the disk a size takes: each member's database and WAL, two
// snapshots, and a margin.
func need(size int64, members int) int64 { return int64(members)*size*2 + 2*size + 1<<30 }

func scaleOne(ctx context.Context, o ScaleOptions, etcdctl, name string, size int64, log *slog.Logger) ([]ScaleRow, error) {
	sb, st, err := newSandbox(ctx, o.Root, o.Binaries, sandbox.Options{Name: name, Members: o.Members, Versions: []string{o.From},
		ExtraFlags: []string{"--snapshot-count=10000", fmt.Sprintf("--quota-backend-bytes=%d", 2*size+1<<30)}})
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	if err := fillRandom(ctx, st, size, o.ValueSize, o.Progress); err != nil {
		return nil, err
	}
	log.Info("{name}: {writes} small writes, then each member restarted, as a Kubernetes cluster's memory is", "name", name, "writes", settleWrites)
	if err := settle(ctx, sb, st, log); err != nil {
		return nil, err
	}
	rev, db, total, err := compactHead(ctx, st)
	if err != nil {
		return nil, err
	}
	log.Info("{name}: {members} members of etcd {version}, database {size}, compacted at revision {revision}", "name", name, "members", o.Members, "version", o.From, "size", progress.Bytes(db), "revision", rev)
	eps := strings.Join(st.Endpoints(), ",")
	var rows []ScaleRow
	run := func(label string, env []string, name string, args ...string) (ScaleRow, error) {
		warm, werr := warmDatabases(st, log)
		r, out, err := measureCmd(ctx, st, env, name, args...)
		r.Size, r.DBSize, r.DBTotal, r.Command = size, db, total, label
		log.Debug("{command}:\n{output}", "command", label, "output", out)
		var notes []string
		if strings.Contains(out, `"compaction": true`) {
			notes = append(notes, "hashes at the compaction, as etcd kept them")
		}
		switch {
		case werr != nil:
			notes = append(notes, "page cache unknown: "+werr.Error())
		case warm < 0.99:
			notes = append(notes, fmt.Sprintf("a member's database only %.0f%% in the page cache at the start", 100*warm))
		}
		r.Note = strings.Join(notes, "; ")
		if err == nil {
			rows = append(rows, r)
			log.Info("{size}: {command}: {wall}, max RSS {rss}, members sent {sent}, peak scratch {tmp}", "size", progress.Bytes(size), "command", label,
				"wall", r.Wall.Round(time.Millisecond), "rss", progress.Bytes(r.MaxRSS), "sent", progress.Bytes(r.Sent), "tmp", progress.Bytes(r.PeakTmp))
		}
		return r, err
	}
	pilot := func(scratch string) []string {
		return []string{"ETCDPILOT_STATE_DIR=" + o.Root, "ETCDPILOT_OFFLINE=1", "ETCDPILOT_LOCK_DIR=" + filepath.Join(scratch, "locks"), "TMPDIR=" + scratch}
	}
	for _, c := range []struct {
		label string
		pilot bool
		args  []string
	}{
		{"etcdctl endpoint status --cluster", false, []string{"--endpoints", eps, "endpoint", "status", "--cluster", "-w", "json"}},
		// etcdctl's 5 s default cuts HashKV off at a few GiB: given the
		// time it needs, as an operator would.
		{"etcdctl endpoint hashkv --cluster", false, []string{"--endpoints", eps, "endpoint", "hashkv", "--cluster", "-w", "json", "--command-timeout=10m"}},
		{"etcdctl snapshot save (one member)", false, []string{"--endpoints", st.Members[0].Endpoint(), "snapshot", "save", "{scratch}/s.db"}},
		{"etcdpilot snapshot save", true, []string{"snapshot", "save", "{scratch}/s.db", "--sandbox", name, "--from", st.Members[0].Name}},
		{"etcdpilot status", true, []string{"status", "--sandbox", name, "-w", "json"}},
		{"etcdpilot upgrade plan (sandbox: pages)", true, []string{"upgrade", "plan", "--sandbox", name, "--to", o.To, "-w", "json"}},
		{"etcdpilot upgrade plan (--endpoints: streams)", true, []string{"upgrade", "plan", "--endpoints", eps, "--to", o.To, "-w", "json"}},
	} {
		scratch, err := os.MkdirTemp(o.Root, "scratch-")
		if err != nil {
			return rows, err
		}
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = strings.ReplaceAll(a, "{scratch}", scratch)
		}
		bin, env := etcdctl, []string{"ETCDCTL_API=3", "TMPDIR=" + scratch}
		if c.pilot {
			bin, env = o.Etcdpilot, pilot(scratch)
		}
		r, err := run(c.label, env, bin, args...)
		os.RemoveAll(scratch)
		if err != nil { // a row that says so; the others still run
			r.Note = "failed: " + firstLine(err.Error())
			rows = append(rows, r)
			log.Warn("{command}: {error}", "command", c.label, "error", err)
		}
	}
	scratch, err := os.MkdirTemp(o.Root, "scratch-")
	if err != nil {
		return rows, err
	}
	defer os.RemoveAll(scratch)
	journal := filepath.Join(scratch, "journal.json")
	apply, err := run("etcdpilot upgrade apply", pilot(scratch), o.Etcdpilot, "upgrade", "apply", "--sandbox", name, "--to", o.To,
		"--journal", journal, "--snapshot-dir", scratch, "--probe=false")
	if err != nil {
		apply.Note = "failed: " + firstLine(err.Error())
		return append(rows, apply), nil
	}
	j, err := engine.LoadJournal(journal)
	if err != nil {
		return rows, err
	}
	steps := stepRows(j, size, db)
	outside := apply.Wall
	for _, x := range steps {
		outside -= x.Wall
	}
	// The checks before the first step (the plan, hashes compared at the
	// start) and the process around the steps.
	steps = append(steps, ScaleRow{Size: size, DBSize: db, Command: "  outside the steps", Wall: outside})
	return append(rows, steps...), nil
}

// stepRows are the journal's steps with their durations: the pre-upgrade
// snapshot, each member's restart, the gates after it.
func stepRows(j *engine.Journal, size, db int64) []ScaleRow {
	var rows []ScaleRow
	started := map[string]time.Time{}
	for _, e := range j.Entries {
		if e.Action == "" {
			continue
		}
		key := string(e.Action) + " " + e.Member + " " + e.Version
		switch e.Status {
		case "started":
			started[key] = e.At
		case "done":
			label := "  " + string(e.Action)
			switch {
			case e.Action == engine.Restart:
				label = "  restart of " + e.Member
			case e.Member != "":
				label += " (" + e.Member + ")"
			}
			rows = append(rows, ScaleRow{Size: size, DBSize: db, Command: label, Wall: e.At.Sub(started[key])})
		}
	}
	return rows
}

// fillRandom writes incompressible values of valueSize from 8 writers until the
// first member's database reaches size.
func fillRandom(ctx context.Context, st *sandbox.State, size int64, valueSize int, out io.Writer) error {
	cli, err := st.Conn().Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	ep := st.Members[0].Endpoint()
	var next atomic.Int64
	var reached atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	bar := progress.NewCounter(out, "filling to "+progress.Bytes(size), size)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewChaCha8([32]byte{byte(w)}))
			val := make([]byte, valueSize)
			for !reached.Load() {
				i := next.Add(1)
				for k := 0; k+8 <= len(val); k += 8 {
					v := r.Uint64()
					for b := 0; b < 8; b++ {
						val[k+b] = byte(v >> (8 * b))
					}
				}
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				_, err := cli.Put(cctx, fmt.Sprintf("/registry/bench/%09d", i), string(val))
				if err == nil && i%64 == 0 {
					s, serr := cli.Status(cctx, ep)
					if err = serr; err == nil && s.DbSize >= size {
						reached.Store(true)
					}
				}
				cancel()
				if err != nil {
					errs <- err
					reached.Store(true)
					return
				}
				bar.Write(val)
			}
		}(w)
	}
	wg.Wait()
	bar.Finish()
	close(errs)
	return <-errs
}

// compactHead compacts the filled cluster at its head, as kube-apiserver
// compacts every 5 minutes, and waits until every member has: the members
// then hold etcd's hash of that compaction, as they do on Kubernetes. It
// returns the revision, the first member's database size and every
// member's together.
func compactHead(ctx context.Context, st *sandbox.State) (rev, first, total int64, err error) {
	cli, err := st.Conn().Client()
	if err != nil {
		return 0, 0, 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/bench/", clientv3.WithCountOnly())
	if err != nil {
		return 0, 0, 0, err
	}
	rev = resp.Header.Revision
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := cli.Compact(cctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, 0, 0, fmt.Errorf("compact at %d: %w", rev, err)
	}
	// The others apply it on their own: each has finished when its
	// last-compaction gauge (set as a compaction ends) passes the start.
	for _, m := range st.Members {
		for {
			last, err := metric(m, "etcd_debugging_mvcc_db_compaction_last")
			if err == nil && int64(last) >= start.Unix() {
				break
			}
			if err := poll.Sleep(cctx, 200*time.Millisecond); err != nil {
				return 0, 0, 0, fmt.Errorf("%s did not finish the compaction at %d: %w", m.Name, rev, err)
			}
		}
	}
	for i, m := range st.Members {
		s, err := cli.Status(cctx, m.Endpoint())
		if err != nil {
			return 0, 0, 0, err
		}
		if i == 0 {
			first = s.DbSize
		}
		total += s.DbSize
	}
	return rev, first, total, nil
}

// measureCmd runs one command and returns its wall time, peak RSS (the
// kernel's VmHWM, read while it runs: a forked child's rusage counts its
// parent's pages), the bytes the members sent meanwhile (their counters,
// read while it runs, so that a member's restart does not lose what it
// sent before) and the peak size of the scratch directories named by
// TMPDIR in env (and, for etcdpilot, the state's tmp).
func measureCmd(ctx context.Context, st *sandbox.State, env []string, name string, args ...string) (ScaleRow, string, error) {
	var r ScaleRow
	var dirs []string
	for _, e := range env {
		if d, ok := strings.CutPrefix(e, "TMPDIR="); ok {
			dirs = append(dirs, d)
		}
		if d, ok := strings.CutPrefix(e, "ETCDPILOT_STATE_DIR="); ok {
			dirs = append(dirs, filepath.Join(d, "tmp"))
		}
	}
	sent := &sentCounter{last: map[string]int64{}}
	if err := sent.poll(st); err != nil {
		return r, "", err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, "", err
	}
	done := make(chan struct{})
	polled := make(chan struct{}, 2)
	var rss, anon atomic.Int64
	go func() { // the high-water mark, often: a short command ends quickly
		defer func() { polled <- struct{}{} }()
		for {
			h, a := memory(cmd.Process.Pid)
			rss.Store(max(rss.Load(), h))
			anon.Store(max(anon.Load(), a))
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer func() { polled <- struct{}{} }()
		for {
			var n int64
			for _, d := range dirs {
				n += fsutil.DirSize(d)
			}
			r.PeakTmp = max(r.PeakTmp, n)
			sent.poll(st)
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	r.Wall = time.Since(start)
	close(done)
	<-polled
	<-polled
	r.MaxRSS, r.MaxAnon = rss.Load(), anon.Load()
	sent.poll(st)
	r.Sent = sent.total
	if err != nil {
		return r, out.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return r, out.String(), nil
}

// memory is a running process's peak RSS (VmHWM) and its anonymous
// RSS now, in bytes (0 once it is gone).
func memory(pid int) (hwm, anon int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	kb := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return n << 10
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = kb(v)
		}
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			anon = kb(v)
		}
	}
	return hwm, anon
}

// sentCounter adds up what the members' gRPC servers sent
// (etcd_network_client_grpc_sent_bytes_total) across polls; a counter
// that went back (the member restarted) counts from zero.
type sentCounter struct {
	last  map[string]int64
	total int64
}

func (c *sentCounter) poll(st *sandbox.State) error {
	for _, m := range st.Members {
		f, err := metric(m, "etcd_network_client_grpc_sent_bytes_total")
		if err != nil {
			continue // restarting
		}
		n := int64(f)
		if last, seen := c.last[m.Name]; seen {
			if n >= last {
				c.total += n - last
			} else {
				c.total += n
			}
		}
		c.last[m.Name] = n
	}
	return nil
}

// metric reads one unlabelled series from a member's /metrics.
func metric(m *sandbox.Member, name string) (float64, error) {
	hc := http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(m.ClientURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s in its metrics", m.Name, name)
}

// Table writes every row, size by size.
func (r *ScaleResult) Table(w io.Writer) error {
	fmt.Fprintf(w, "%d members, etcd %s (upgrade to %s), incompressible values\n\n", r.Members, r.From, r.To)
	rows := [][]string{{"DB", "COMMAND", "WALL", "MAX RSS", "MAX ANON", "MEMBERS SENT", "PEAK SCRATCH", "NOTE"}}
	for _, x := range r.Rows {
		db := progress.Bytes(x.DBSize)
		if x.DBSize == 0 {
			db = progress.Bytes(x.Size)
		}
		if x.Command == "" || strings.HasPrefix(x.Command, "  ") {
			rows = append(rows, []string{db, x.Command, x.Wall.Round(10 * time.Millisecond).String(), "", "", "", "", x.Note})
			continue
		}
		rows = append(rows, []string{db, x.Command, x.Wall.Round(10 * time.Millisecond).String(), progress.Bytes(x.MaxRSS), progress.Bytes(x.MaxAnon), progress.Bytes(x.Sent), progress.Bytes(x.PeakTmp), x.Note})
	}
	if err := printer.Table(w, rows); err != nil {
		return err
	}
	printTargets(w, r.Targets())
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
