package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/engine"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// fast lets the tests run jobs every second.
var fast = limits{backup: time.Second, defrag: time.Second, check: time.Second}

func writeConfig(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	testutil.Must(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// TestLoad: an unknown key and a bad schedule are refused with their
// line; a backup without a store too.
func TestLoad(t *testing.T) {
	for text, want := range map[string]string{
		"listen: 127.0.0.1:0\nbackups:\n  - schedule: \"@every 1m\"\n    store: /b\n    retain: 3\n": "line 5: field retain not found",
		"backups:\n  - schedule: \"61 * * * *\"\n    store: /b\n":                                    "line 2: schedule \"61 * * * *\"",
		"backups:\n  - schedule: \"@every 1m\"\n":                                                    "has no store",
		"listen: 127.0.0.1:0\n":                           "nothing to do",
		"defrag:\n  schedule: \"@daily\"\n":               "give ifFree (200MiB) or ifFragmented",
		"defrag:\n  schedule: \"@daily\"\n  ifFree: 45\n": "ifFree: size \"45\": give a number with its unit",
		// Issue 27: a verified snapshot every second (or continuously).
		"backups:\n  - schedule: \"@every 0s\"\n    store: /b\n":  "line 2: backup backup-1 schedule \"@every 0s\" runs every 1s: the shortest is every 1m0s",
		"backups:\n  - schedule: \"@every 30s\"\n    store: /b\n": "the shortest is every 1m0s",
		"checks:\n  schedule: \"@every 1s\"\n":                    "the shortest is every 5s",
		// A fleet: each cluster named once, with endpoints and jobs; jobs
		// at the top belong to the single-cluster form only.
		"clusters:\n  - name: a\n    endpoints: [http://127.0.0.1:2379]\n    checks: {schedule: \"@every 5s\"}\nchecks: {schedule: \"@every 5s\"}\n":                  "with clusters listed, give each cluster its jobs",
		"clusters:\n  - name: a\n    endpoints: [x]\n    checks: {schedule: \"@every 5s\"}\n  - name: a\n    endpoints: [y]\n    checks: {schedule: \"@every 5s\"}\n": "cluster a is listed twice",
		"clusters:\n  - name: a\n    checks: {schedule: \"@every 5s\"}\n":                                                                                             "cluster a has no endpoints",
		"clusters:\n  - name: a b\n    endpoints: [x]\n    checks: {schedule: \"@every 5s\"}\n":                                                                       "name \"a b\"",
		"clusters:\n  - name: a\n    endpoints: [x]\n":                                                                                                                "cluster a: nothing to do",
		"clusters:\n  - name: a\n    endpoints: [x]\n    passwordFile: /nonexistent/pw\n    checks: {schedule: \"@every 5s\"}\n":                                      "passwordFile: open /nonexistent/pw",
		// Continuous backup: a store, sane intervals and sizes.
		"continuous:\n  flush: 1s\n":                    "continuous: no store",
		"continuous:\n  store: /b\n  fullEvery: 10s\n":  "at most one a minute",
		"continuous:\n  store: /b\n  flush: 5m\n":       "give 10ms to 1m",
		"continuous:\n  store: /b\n  segmentSize: 8\n":  "segmentSize \"8\"",
		"continuous:\n  store: /b\n  compress: gzip\n":  "zstd is the one compression",
		"continuous:\n  store: /b\n  spool: lots\n":     "spool \"lots\": give a size",
		"continuous:\n  store: /b\n  encrypt: [nope]\n": "not an age recipient",
	} {
		if _, err := Load(writeConfig(t, text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	c, err := Load(writeConfig(t, "backups:\n  - schedule: \"*/5 * * * *\"\n    store: s3://b/p/\n    keep: {last: 3}\n    timeout: 30m\nchecks:\n  schedule: \"@every 30s\"\n"))
	testutil.Must(t, err)
	if c.Backups[0].Timeout != 30*time.Minute || c.Backups[0].Keep.Last != 3 || c.Backups[0].Name != "backup-1" || c.Listen != "127.0.0.1:9479" {
		t.Errorf("config %+v", c)
	}
	// Every agent file the README shows loads.
	readme, err := os.ReadFile("../../README.md")
	testutil.Must(t, err)
	blocks := regexp.MustCompile(`(?s)cat > agent.yaml <<'YAML'\n(.*?)\nYAML\n`).FindAllSubmatch(readme, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d agent files in the README", len(blocks))
	}
	for _, b := range blocks {
		if _, err := Load(writeConfig(t, string(b[1]))); err != nil {
			t.Errorf("the README's agent file:\n%s\n%v", b[1], err)
		}
	}
	c, err = Load(writeConfig(t, "continuous:\n  store: /b\n"))
	testutil.Must(t, err)
	if ct := c.Continuous; ct.FullEvery != time.Hour || ct.Flush != time.Second || ct.segmentSize != 8<<20 || ct.spool != 1<<30 {
		t.Errorf("continuous defaults %+v", ct)
	}
	c, err = Load(writeConfig(t, "continuous:\n  store: /b\n  spool: 0\n"))
	testutil.Must(t, err)
	if c.Continuous.spool != 0 {
		t.Errorf("spool: 0 gives %d", c.Continuous.spool)
	}
}

func get(t *testing.T, url string) (int, string) { return testutil.HTTPGet(url) }

// TestAgent runs the agent on a sandbox: a backup every second into a
// directory keeping the last 2, checks every second. The exposition passes
// promtool; a real Prometheus scrapes the agent and its query API returns
// the backup age; the shipped alert rules pass promtool. Stopping waits
// for the run under way.
func TestAgent(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 3, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	dir := t.TempDir()
	c, err := load(writeConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\nbackups:\n  - name: fast\n    schedule: \"@every 1s\"\n    store: %s\n    keep: {last: 2}\nchecks:\n  schedule: \"@every 1s\"\n", dir)), fast)
	testutil.Must(t, err)
	a := &Agent{Config: c, Session: testutil.Session(t, st.Conn()), Version: "test", Log: testutil.Logger(t)}
	ag := startAgent(t, a)
	base, addr := ag.base, strings.TrimPrefix(ag.base, "http://")
	var metrics string
	testutil.Eventually(t, time.Minute, func() error {
		_, metrics = get(t, base+"/metrics")
		if !strings.Contains(metrics, `etcdpilot_backup_runs_total{backup="fast",result="success"} 3`) {
			return fmt.Errorf("fewer than 3 backups yet")
		}
		return nil
	})
	for _, want := range []string{`etcdpilot_backup_age_seconds{backup="fast"}`, `etcdpilot_member_healthy{member="m1"} 1`, `etcdpilot_hash_agreement{state="agree"} 1`, `etcdpilot_hash_agreement{state="disagree"} 0`,
		`etcdpilot_alarms{alarm="NOSPACE"} 0`, `etcdpilot_backup_interval_seconds{backup="fast"} 1`, `etcdpilot_build_info{goversion="go`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(snaps) > 3 { // the retention runs after each save: 2, or 3 mid-run
		t.Errorf("%d snapshots kept, want 2", len(snaps))
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: make test installs Debian's prometheus")
	}
	chk := exec.Command(promtool, "check", "metrics")
	chk.Stdin = strings.NewReader(metrics)
	if out, err := chk.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/etcdpilot-rules.yaml").CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	prom := scrape(t, addr)
	dashboardQueries(t, prom)
	time.Sleep(3 * time.Second) // three rule evaluations
	for _, a := range testutil.Alerts(t, prom) {
		if strings.HasPrefix(a, "EtcdMemberDown") || strings.HasPrefix(a, "EtcdHashesDisagree") {
			t.Errorf("healthy cluster, alert %s", a)
		}
	}

	// m3 dies, then is removed from the cluster: its series go with it,
	// so the member-down alert, raised by the real Prometheus, clears.
	ctx2 := testutil.Context(t, 2*time.Minute)
	testutil.Must(t, sb.Kill(ctx2, "m3"))
	waitMetrics(t, base, `etcdpilot_member_healthy{member="m3"} 0`, true)
	testutil.Eventually(t, time.Minute, func() error {
		if a := testutil.Alerts(t, prom); !slices.Contains(a, "EtcdMemberDown{m3}") {
			return fmt.Errorf("alerts %v", a)
		}
		return nil
	})
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	l, err := cli.MemberList(ctx2)
	testutil.Must(t, err)
	for _, m := range l.Members {
		if m.Name == "m3" {
			_, err := cli.MemberRemove(ctx2, m.ID)
			testutil.Must(t, err)
		}
	}
	waitMetrics(t, base, `member="m3"`, false)
	testutil.Eventually(t, time.Minute, func() error {
		if a := testutil.Alerts(t, prom); slices.Contains(a, "EtcdMemberDown{m3}") {
			return fmt.Errorf("the alert stays after the removal: %v", a)
		}
		return nil
	})

	ag.stop(t)
	if code, _ := get(t, base+"/healthz"); code != 0 {
		t.Error("/healthz still answers after the stop")
	}
}

// running is an agent under test.
type running struct {
	base    string // http://ADDRESS
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startAgent runs a until the test ends (or stop), once it serves.
func startAgent(t *testing.T, a *Agent) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() { r.done <- a.Run(ctx, func(addr string) { addrc <- addr }) }()
	select {
	case addr := <-addrc:
		r.base = "http://" + addr
	case err := <-r.done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !r.stopped {
			cancel()
			<-r.done
		}
	})
	return r
}

// stop stops the agent, which waits for the runs under way (two minutes
// at the most here).
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		testutil.Must(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the agent did not stop")
	}
}

// waitMetrics waits until the agent's metrics hold (or no longer hold) a
// text.
func waitMetrics(t *testing.T, base, text string, present bool) {
	t.Helper()
	testutil.Eventually(t, time.Minute, func() error {
		_, m := get(t, base+"/metrics")
		if strings.Contains(m, text) != present {
			return fmt.Errorf("metrics: %s present: %v", text, !present)
		}
		return nil
	})
}

// TestAgentOneMember: a one-member cluster has nothing to compare its
// hash with: the state is unknown, never a disagreement. The backup age
// is there from the start, read from the newest snapshot already in the
// store.
func TestAgentOneMember(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	dir := t.TempDir()
	sess := testutil.Session(t, st.Conn())
	ctx := testutil.Context(t, 2*time.Minute)
	_, _, err := snapshot.Save(ctx, sess, dir+"/", snapshot.SaveOptions{Version: "test"})
	testutil.Must(t, err)
	c, err := load(writeConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\nbackups:\n  - name: daily\n    schedule: \"@daily\"\n    store: %s\nchecks:\n  schedule: \"@every 1s\"\n", dir)), fast)
	testutil.Must(t, err)
	base := startAgent(t, &Agent{Config: c, Session: sess, Version: "test", Log: testutil.Logger(t)}).base
	// Read from the store at start, long before the daily run.
	waitMetrics(t, base, `etcdpilot_backup_age_seconds{backup="daily"}`, true)
	waitMetrics(t, base, `etcdpilot_backup_interval_seconds{backup="daily"} 86400`, true)
	waitMetrics(t, base, `etcdpilot_member_healthy{member="m1"} 1`, true)
	_, m := get(t, base+"/metrics")
	for _, want := range []string{`etcdpilot_hash_agreement{state="unknown"} 1`, `etcdpilot_hash_agreement{state="disagree"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The shipped rules, evaluated by a real Prometheus: nothing pending
	// or firing on a healthy one-member cluster.
	prom := scrape(t, strings.TrimPrefix(base, "http://"))
	time.Sleep(3 * time.Second)
	if a := testutil.Alerts(t, prom); len(a) > 0 {
		t.Errorf("alerts on a healthy one-member cluster: %v", a)
	}
}

// TestAgentFleet: one agent serves three clusters listed in its file.
// Each cluster's series carry its label; a cluster that accepts
// connections and never answers delays no other; a store that cannot be
// written is named in /healthz at start while the other jobs go on.
func TestAgentFleet(t *testing.T) {
	t.Parallel()
	sa := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	sta, _ := sa.State()
	stb, _ := sb.State()
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer hang.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	testutil.Must(t, os.WriteFile(notADir, nil, 0o600))
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
clusters:
  - name: a
    endpoints: [%s]
    backups:
      - {name: fast, schedule: "@every 1s", store: %s, keep: {last: 2}}
    checks: {schedule: "@every 1s"}
  - name: b
    endpoints: [%s]
    backups:
      - {name: fast, schedule: "@every 1s", store: %s, keep: {last: 2}}
      - {name: broken, schedule: "@every 1s", store: %s}
    checks: {schedule: "@every 1s"}
  - name: c
    endpoints: [http://%s]
    dialTimeout: 30s
    checks: {schedule: "@every 1s"}
`, sta.Members[0].ClientURL, filepath.Join(dir, "a"), stb.Members[0].ClientURL, filepath.Join(dir, "b"), filepath.Join(notADir, "sub"), hang.Addr())
	c, err := load(writeConfig(t, cfg), fast)
	testutil.Must(t, err)
	ag := startAgent(t, &Agent{Config: c, Version: "test", Log: testutil.Logger(t)})
	base := ag.base
	for _, want := range []string{
		`etcdpilot_backup_runs_total{backup="fast",cluster="a",result="success"} 2`,
		`etcdpilot_backup_runs_total{backup="fast",cluster="b",result="success"} 2`,
		`etcdpilot_member_healthy{cluster="a",member="m1"} 1`,
		`etcdpilot_member_healthy{cluster="b",member="m1"} 1`,
		`etcdpilot_hash_agreement{cluster="a",state="unknown"} 1`,
	} {
		waitMetrics(t, base, want, true)
	}
	code, body := get(t, base+"/healthz")
	if code != 503 || !strings.Contains(body, "cluster b: backup broken") || !strings.Contains(body, "not a directory") || strings.Contains(body, "cluster a") {
		t.Errorf("/healthz: %d %s", code, body)
	}
	// The stop waits for the check of c under way, bounded by its timeout.
	ag.stop(t)
}

// TestAgentElection: two agents on one cluster elect one in etcd; only
// it backs up, the other reports the store's backup age and takes over
// when the first stops.
func TestAgentElection(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	dir := t.TempDir()
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nbackups:\n  - name: fast\n    schedule: \"@every 1s\"\n    store: %s\n    keep: {last: 3}\nchecks:\n  schedule: \"@every 1s\"\n", dir)
	start := func() *running {
		c, err := load(writeConfig(t, cfg), fast)
		testutil.Must(t, err)
		return startAgent(t, &Agent{Config: c, Session: testutil.Session(t, st.Conn()), Version: "test", Log: testutil.Logger(t)})
	}
	one, two := start(), start()
	// The samples, from the start of their line: the HELP text also
	// begins "etcdpilot_agent_leader 1 while ...".
	const leads, standsBy = "\netcdpilot_agent_leader 1\n", "\netcdpilot_agent_leader 0\n"
	var leader, standby *running
	testutil.Eventually(t, time.Minute, func() error {
		_, m1 := get(t, one.base+"/metrics")
		_, m2 := get(t, two.base+"/metrics")
		switch {
		case strings.Contains(m1, leads) && strings.Contains(m2, standsBy):
			leader, standby = one, two
		case strings.Contains(m2, leads) && strings.Contains(m1, standsBy):
			leader, standby = two, one
		default:
			return fmt.Errorf("no single leader yet: %q %q", grepLine(m1, "etcdpilot_agent_leader "), grepLine(m2, "etcdpilot_agent_leader "))
		}
		return nil
	})
	waitMetrics(t, leader.base, `etcdpilot_backup_runs_total{backup="fast",result="success"} 2`, true)
	// The standby takes none, and reads the age from the store.
	waitMetrics(t, standby.base, `etcdpilot_backup_age_seconds{backup="fast"}`, true)
	if _, m := get(t, standby.base+"/metrics"); strings.Contains(m, "etcdpilot_backup_runs_total{") {
		t.Errorf("the standby backed up: %s", grepLine(m, "etcdpilot_backup_runs_total{"))
	}
	leader.stop(t)
	waitMetrics(t, standby.base, leads, true)
	waitMetrics(t, standby.base, `etcdpilot_backup_runs_total{backup="fast",result="success"}`, true)
}

// TestAlertRules runs the rules' unit tests with promtool, and checks
// that every alert has a runbook, a section of the README.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: make test installs Debian's prometheus")
	}
	if out, err := exec.Command(promtool, "test", "rules", "../../deploy/prometheus/etcdpilot-rules.test.yaml").CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
	rules, err := os.ReadFile("../../deploy/prometheus/etcdpilot-rules.yaml")
	testutil.Must(t, err)
	readme, err := os.ReadFile("../../README.md")
	testutil.Must(t, err)
	alerts := strings.Count(string(rules), "- alert:")
	urls := regexp.MustCompile(`runbook_url: "[^"#]*#([a-z]+)"`).FindAllStringSubmatch(string(rules), -1)
	if len(urls) != alerts {
		t.Errorf("%d alerts, %d runbook URLs", alerts, len(urls))
	}
	heads := map[string]bool{}
	for _, h := range regexp.MustCompile(`(?m)^#+ (\w+)$`).FindAllStringSubmatch(string(readme), -1) {
		heads[strings.ToLower(h[1])] = true
	}
	for _, u := range urls {
		if !heads[u[1]] {
			t.Errorf("runbook #%s: no such section in the README", u[1])
		}
	}
}

// scrape runs a real Prometheus against the agent with the shipped alert
// rules, and waits until it holds the backup age.
func scrape(t *testing.T, agent string) string {
	prom := testutil.Prometheus(t, agent, "../../deploy/prometheus/etcdpilot-rules.yaml")
	testutil.Eventually(t, time.Minute, func() error {
		if len(testutil.PromQuery(t, prom, "etcdpilot_backup_age_seconds")) == 0 {
			return fmt.Errorf("no backup age scraped yet")
		}
		return nil
	})
	return prom
}

// dashboardQueries runs every query of the Grafana dashboard, its job and
// instance variables set to match all, against the real Prometheus: each
// must parse, and those of the panels every agent fills must answer.
func dashboardQueries(t *testing.T, prom string) {
	b, err := os.ReadFile("../../deploy/grafana/etcdpilot-dashboard.json")
	testutil.Must(t, err)
	var d struct {
		Templating struct{ List []struct{ Name string } }
		Panels     []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	testutil.Must(t, json.Unmarshal(b, &d))
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["job"] || !vars["instance"] {
		t.Errorf("the dashboard has no job or instance variable: %v", vars)
	}
	sel := strings.NewReplacer("$job", ".*", "$instance", ".*")
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("panel %q does not select by job and instance: %s", p.Title, tg.Expr)
			}
			q := sel.Replace(tg.Expr)
			_, body := get(t, "http://"+prom+"/api/v1/query?query="+url.QueryEscape(q))
			var r struct {
				Status string
				Data   struct{ Result []any }
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
				t.Errorf("panel %q: %s: %.300s", p.Title, q, body)
				continue
			}
			if !strings.Contains(q, "increase(") && len(r.Data.Result) == 0 { // increase needs two scrapes
				t.Errorf("panel %q: %s: no data", p.Title, q)
			}
		}
	}
}

// TestAgentDefrag: a scheduled defrag with a threshold defragments the
// members that have free pages (one run), then skips while none has.
func TestAgentDefrag(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 3, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	s := testutil.Session(t, st.Conn())
	ctx := testutil.Context(t, 2*time.Minute)
	testutil.Fragment(t, s)

	c, err := load(writeConfig(t, "listen: 127.0.0.1:0\ndefrag:\n  schedule: \"@every 1s\"\n  ifFree: 1MiB\n"), fast)
	testutil.Must(t, err)
	state := t.TempDir()
	// A change by hand on the node (upgrade apply, defrag) holds the
	// cluster's lock in the directory the agent shares: the agent's
	// defrag refuses while it does.
	cl0, err := s.Status(ctx)
	testutil.Must(t, err)
	held, err := engine.Lock(filepath.Join(state, "locks"), cl0.ClusterID)
	testutil.Must(t, err)
	ag := startAgent(t, &Agent{Config: c, Session: s, Version: "test", Log: testutil.Logger(t), StateDir: state, LockDir: filepath.Join(state, "locks")})
	base := ag.base
	waitMetrics(t, base, `etcdpilot_defrag_runs_total{result="failure"}`, true)
	if _, m := get(t, base+"/metrics"); strings.Contains(m, `etcdpilot_defrag_runs_total{result="success"}`) {
		t.Fatal("the agent defragmented while another change held the lock")
	}
	held.Unlock()
	testutil.Eventually(t, time.Minute, func() error {
		_, m := get(t, base+"/metrics")
		if !strings.Contains(m, `etcdpilot_defrag_runs_total{result="success"} 1`) || !strings.Contains(m, `etcdpilot_defrag_runs_total{result="skipped"}`) {
			return fmt.Errorf("no defrag, then no skip, yet")
		}
		if !strings.Contains(m, "etcdpilot_defrag_members_total 3") {
			return fmt.Errorf("members defragmented: %s", grepLine(m, "etcdpilot_defrag_members_total"))
		}
		return nil
	})
	ag.stop(t)
	cl, err := s.Status(ctx)
	testutil.Must(t, err)
	for _, m := range cl.Members {
		if m.DBSize-m.DBSizeInUse >= 1<<20 {
			t.Errorf("%s: %d bytes free after the defrag", m.Name, m.DBSize-m.DBSizeInUse)
		}
	}
}

func grepLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestAgentStopWaitsForTheBackup (issue 27): a stop (SIGTERM) while a
// backup is under way lets it finish, bounded by its timeout, and records
// it as a success, not a failure.
func TestAgentStopWaitsForTheBackup(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	cli, err := st.Conn().Client()
	testutil.Must(t, err)
	defer cli.Close()
	val := strings.Repeat("x", 512<<10)
	for i := 0; i < 120; i++ { // 60 MiB: the save takes a moment
		_, err := cli.Put(context.Background(), fmt.Sprintf("/big/%03d", i), val)
		testutil.Must(t, err)
	}
	dir := t.TempDir()
	c, err := load(writeConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\nbackups:\n  - name: slow\n    schedule: \"@every 1s\"\n    store: %s\n", dir)), fast)
	testutil.Must(t, err)
	a := &Agent{Config: c, Session: testutil.Session(t, st.Conn()), Version: "test", Log: testutil.Logger(t)}
	ag := startAgent(t, a)
	// Stop as soon as the save's temporary file appears.
	testutil.Eventually(t, time.Minute, func() error {
		if tmp, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmp) > 0 {
			return nil
		}
		return fmt.Errorf("no save under way yet")
	})
	ag.stop(t)
	snaps, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots after the stop: %v (the run under way must finish)", snaps)
	}
	if got := testutilCounter(a, "slow", "failure"); got != 0 {
		t.Errorf("%v failed backups recorded", got)
	}
}

func testutilCounter(a *Agent, job, result string) float64 {
	m := &dto.Metric{}
	a.m.backupRuns.with("", job, result).Write(m)
	return m.GetCounter().GetValue()
}

// TestAgentCertificates: the expiry of every certificate the cluster
// uses is exported: the session's CA and client pair, each member's
// serving certificate from the handshake, and the certificate files the
// member configurations of memberConfigs name.
func TestAgentCertificates(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}, TLS: true})
	st, _ := sb.State()
	m := st.Members[0]
	flags := filepath.Join(t.TempDir(), "m1.flags")
	testutil.Must(t, os.WriteFile(flags, []byte("--name=m1\n--cert-file="+m.Cert.Cert+"\n--key-file="+m.Cert.Key+"\n"), 0o600))
	c, err := load(writeConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\nchecks:\n  schedule: \"@every 1s\"\nmemberConfigs: [%s]\n", flags)), fast)
	testutil.Must(t, err)
	base := startAgent(t, &Agent{Config: c, Session: testutil.Session(t, st.Conn()), Version: "test", Log: testutil.Logger(t)}).base
	for _, want := range []string{
		`etcdpilot_certificate_expiry_timestamp_seconds{file="` + st.TLS.CA + `",kind="ca",member=""}`,
		`etcdpilot_certificate_expiry_timestamp_seconds{file="` + m.Cert.Cert + `",kind="server-file",member="m1"}`,
		`kind="serving",member="m1"}`,
	} {
		waitMetrics(t, base, want, true)
	}
	if _, err := load(writeConfig(t, "checks:\n  schedule: \"@every 1s\"\nmemberConfigs: [/nonexistent/etcd.yaml]\n"), fast); err == nil || !strings.Contains(err.Error(), "memberConfigs") {
		t.Errorf("a missing member configuration: %v", err)
	}
}
