package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// scenario is one question an operator asks, with the answer etcd's
// documentation gives (upgrade guides 3.5, 3.6, 3.7; downgrade guide;
// kubeadm's constants), written before looking at etcdpilot's output.
type scenario struct {
	name       string
	from       []string // member versions (m1, m2, ...)
	to         string
	config     string // flag list or unit for every member
	kubernetes string
	direct     bool
	mutate     func(*Cluster)
	v2wal      map[string]int
	v2custom   map[string]int

	path     []string // "FROM>TO:kind"
	blockers []string // blocker codes, exactly (sorted, with repeats)
	warns    []string // warning codes that must be present
	noWarns  []string // warning codes that must be absent
	text     []string // words some finding must say
	noText   []string // words no finding may say
	errLike  string   // Make must fail with this
}

var now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

var scenarios = []scenario{
	// Upgrade guide 3.6: 3.5 members on 3.5.32+ go straight to 3.6.
	{name: "3.5.36 to 3.6", from: v("3.5.36"), to: "3.6", path: []string{"3.5.36>3.6.17:minor"}, noWarns: []string{"cve", "mixed-versions"}, noText: []string{"zombie", "learner"}},
	// Policy: latest patch first, then the hop (3.5.20 < 3.5.32 minimum).
	{name: "3.5.20 to 3.6.17", from: v("3.5.20"), to: "3.6.17", path: []string{"3.5.20>3.5.36:patch", "3.5.36>3.6.17:minor"}, warns: []string{"cve", "known-issue"}},
	// 3.4 is EOL; one minor at a time: 3.4 -> 3.5 -> 3.6.
	{name: "3.4.23 to 3.6", from: v("3.4.23"), to: "3.6", path: []string{"3.4.23>3.4.45:patch", "3.4.45>3.5.36:minor", "3.5.36>3.6.17:minor"}, warns: []string{"eol", "cve"}},
	{name: "3.4.45 to 3.5", from: v("3.4.45"), to: "3.5", path: []string{"3.4.45>3.5.36:minor"}, warns: []string{"eol"}},
	// 3.7 removes every --experimental-* flag.
	{name: "3.5.36 to 3.7.3 with an experimental flag", from: v("3.5.36"), to: "3.7.3", config: "--name=m1 --experimental-initial-corrupt-check=true",
		path: []string{"3.5.36>3.6.17:minor", "3.6.17>3.7.3:minor"}, blockers: []string{"flag-removed", "v2-wal-entries"}},
	// 3.7 cannot replay the v2 entries 3.5 wrote (etcd-io/etcd#21263):
	// certain when the path crosses 3.6 in one run, read from the WALs
	// where they can be read, a warning where they cannot.
	{name: "3.6.17 to 3.7, WALs clean", from: v("3.6.17", "3.6.17"), to: "3.7", v2wal: map[string]int{"m1": 0, "m2": 0}, path: []string{"3.6.17>3.7.3:minor"}, noWarns: []string{"v2-wal-unknown"}},
	{name: "3.6.17 to 3.7, one WAL still replays 3.5's entries", from: v("3.6.17", "3.6.17"), to: "3.7", v2wal: map[string]int{"m1": 4, "m2": 0}, path: []string{"3.6.17>3.7.3:minor"}, blockers: []string{"v2-wal-entries"}},
	{name: "3.6.17 to 3.7, WALs unread", from: v("3.6.17"), to: "3.7", path: []string{"3.6.17>3.7.3:minor"}, warns: []string{"v2-wal-unknown"}},
	{name: "3.6.17 to 3.7 with a renamed experimental flag in a unit's environment", from: v("3.6.17"), to: "3.7",
		config: "[Service]\nEnvironment=ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=5s\nExecStart=/usr/bin/etcd --name m1\n",
		path:   []string{"3.6.17>3.7.3:minor"}, warns: []string{"env-ignored"}},
	// 3.6 still accepts them, deprecated.
	{name: "3.5.36 to 3.6.17 with an experimental flag", from: v("3.5.36"), to: "3.6.17", config: "--name=m1 --experimental-initial-corrupt-check=true",
		path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"flag-deprecated"}},
	// 3.6 drops the v2 store and the --enable-v2 flag.
	{name: "v2 enabled before 3.6", from: v("3.5.36"), to: "3.6.17", config: "--name=m1 --enable-v2=true", path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"flag-removed", "v2-store"}},
	{name: "enable-v2=false is still a flag 3.6 rejects", from: v("3.5.36"), to: "3.6.17", config: "--name=m1 --enable-v2=false", path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"flag-removed"}},
	{name: "v2 via ETCD_ENABLE_V2 in a unit", from: v("3.5.36"), to: "3.6.17", config: "[Service]\nEnvironment=ETCD_ENABLE_V2=true\nExecStart=/usr/bin/etcd --name=m1\n", path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"v2-store"}, warns: []string{"env-ignored"}},
	// kubespray's etcd.env carries ETCD_PROXY=off into 3.6: etcd warns and starts.
	{name: "ETCD_PROXY=off in a unit's environment file", from: v("3.5.36"), to: "3.6.17", config: "[Service]\nEnvironment=ETCD_PROXY=off\nExecStart=/usr/bin/etcd --name=m1\n", path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"env-ignored"}},
	{name: "v2 served (live probe)", from: v("3.5.36"), to: "3.6.17", mutate: func(c *Cluster) { c.Members[0].V2Enabled = true }, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"v2-store"}},
	// 3.5 removed flags deprecated in 3.4.
	{name: "--debug on the way to 3.5", from: v("3.4.23"), to: "3.5.36", config: "--name=m1 --debug", path: []string{"3.4.23>3.4.45:patch", "3.4.45>3.5.36:minor"}, blockers: []string{"flag-removed"}},
	{name: "--log-output on the way to 3.5", from: v("3.4.45"), to: "3.5.36", config: "--name=m1 --log-output=stderr", path: []string{"3.4.45>3.5.36:minor"}, blockers: []string{"flag-removed"}},
	{name: "v2 discovery on the way to 3.7", from: v("3.6.17"), to: "3.7.3", config: "--name=m1 --discovery=https://discovery.example/abc", path: []string{"3.6.17>3.7.3:minor"}, blockers: []string{"flag-removed"}},
	// Upgrade guide 3.7: 3.6 members on 3.6.11+ first.
	{name: "3.6.5 to 3.7.3", from: v("3.6.5"), to: "3.7.3", path: []string{"3.6.5>3.6.17:patch", "3.6.17>3.7.3:minor"}, warns: []string{"cve", "known-issue"}},
	{name: "3.5.36 to latest", from: v("3.5.36"), to: "latest", path: []string{"3.5.36>3.6.17:minor", "3.6.17>3.7.3:minor"}, blockers: []string{"v2-wal-entries"}},
	{name: "patch upgrade", from: v("3.6.10"), to: "3.6", path: []string{"3.6.10>3.6.17:patch"}, warns: []string{"cve"}},
	{name: "nothing to do", from: v("3.6.17"), to: "3.6.17", path: nil, noWarns: []string{"known-issue", "cve"}},
	// A target inside the learner-promotion bug range (3.6.0-3.6.3, fixed 3.6.4).
	{name: "3.5.36 to 3.6.3", from: v("3.5.36"), to: "3.6.3", path: []string{"3.5.36>3.6.3:minor"}, warns: []string{"known-issue", "not-latest-patch"}},
	// --direct judges the single jump by etcd's rules.
	{name: "direct minor skip", from: v("3.4.23"), to: "3.6.17", direct: true, path: []string{"3.4.23>3.6.17:minor"}, blockers: []string{"minor-skip"}},
	{name: "direct below the 3.6 minimum", from: v("3.5.20"), to: "3.6.17", direct: true, path: []string{"3.5.20>3.6.17:minor"}, blockers: []string{"minimum-patch"}},
	{name: "direct at the minimum", from: v("3.5.32"), to: "3.6.17", direct: true, path: []string{"3.5.32>3.6.17:minor"}},
	{name: "direct below the 3.7 minimum", from: v("3.6.10"), to: "3.7.3", direct: true, path: []string{"3.6.10>3.7.3:minor"}, blockers: []string{"minimum-patch"}},
	// Mixed clusters.
	{name: "mixed hop under way", from: []string{"3.5.36", "3.5.36", "3.6.17"}, to: "3.6.17", path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"mixed-versions"}},
	{name: "mixed hop begun below the minimum", from: []string{"3.5.20", "3.5.20", "3.6.17"}, to: "3.6.17", path: []string{"3.5.20>3.5.36:patch", "3.5.36>3.6.17:minor"}, blockers: []string{"minimum-patch", "minimum-patch"}},
	{name: "mixed across two minors", from: []string{"3.4.23", "3.6.17", "3.6.17"}, to: "3.6.17", blockers: []string{"minor-skip"}},
	{name: "roll back a mixed cluster", from: []string{"3.5.36", "3.5.36", "3.6.17"}, to: "3.5.36", path: []string{"3.6.17>3.5.36:rollback"}},
	// Downgrade guide: 3.6+ has the downgrade API, one minor at a time.
	{name: "3.6 down to 3.5", from: v("3.6.17"), to: "3.5.36", path: []string{"3.6.17>3.5.36:downgrade-minor"}},
	{name: "3.7 down to 3.5", from: v("3.7.3"), to: "3.5", path: []string{"3.7.3>3.6.17:downgrade-minor", "3.6.17>3.5.36:downgrade-minor"}},
	{name: "3.5 down to 3.4 has no API", from: v("3.5.36"), to: "3.4.45", blockers: []string{"downgrade-impossible"}},
	{name: "patch downgrade into known bugs", from: v("3.5.36"), to: "3.5.20", path: []string{"3.5.36>3.5.20:downgrade-patch"}, warns: []string{"known-issue"}, noWarns: []string{"not-latest-patch"}},
	// Kubernetes: kubeadm 1.34-1.36 ship 3.6.9-0, accept external etcd 3.5.24+.
	{name: "3.7 for Kubernetes 1.36", from: v("3.5.36"), to: "3.7.3", kubernetes: "1.36", path: []string{"3.5.36>3.6.17:minor", "3.6.17>3.7.3:minor"}, blockers: []string{"v2-wal-entries"}, warns: []string{"kubernetes"}},
	{name: "3.6 for Kubernetes 1.36", from: v("3.5.36"), to: "3.6.17", kubernetes: "v1.36.2", path: []string{"3.5.36>3.6.17:minor"}, noWarns: []string{"kubernetes"}},
	{name: "below kubeadm's minimum external etcd", from: v("3.5.21"), to: "3.5.22", kubernetes: "1.36", path: []string{"3.5.21>3.5.22:patch"}, blockers: []string{"kubernetes-min-external"}, warns: []string{"kubernetes", "not-latest-patch"}},
	{name: "Kubernetes release the catalog does not map", from: v("3.5.36"), to: "3.6.17", kubernetes: "1.40", path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"kubernetes"}},
	// Cluster state blockers.
	{name: "learner present", from: v("3.6.17", "3.6.17", "3.6.17"), to: "3.7.3", mutate: func(c *Cluster) { c.Members[2].IsLearner = true }, path: []string{"3.6.17>3.7.3:minor"}, blockers: []string{"learner-present"}},
	{name: "member down", from: v("3.5.36", "3.5.36", "3.5.36"), to: "3.6.17", mutate: func(c *Cluster) {
		c.Live, c.Health = true, "degraded"
		c.HealthReasons = []string{"member m3 unreachable: connection refused"}
		c.Members[2] = Member{Name: "m3", Error: "connection refused"}
	}, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"unreachable"}},
	{name: "no quorum", from: v("3.5.36", "3.5.36", "3.5.36"), to: "3.6.17", mutate: func(c *Cluster) {
		c.Live, c.Health = true, "unavailable"
		c.Members[1] = Member{Name: "m2", Error: "timeout"}
		c.Members[2] = Member{Name: "m3", Error: "timeout"}
	}, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"no-quorum", "unreachable", "unreachable"}},
	{name: "NOSPACE alarm", from: v("3.5.36"), to: "3.6.17", mutate: func(c *Cluster) { c.Alarms = status.Alarms{{Type: status.NoSpace, Member: "m1"}} }, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"alarm"}},
	{name: "database over quota", from: v("3.5.36"), to: "3.6.17", config: "--name=m1 --quota-backend-bytes=1073741824", mutate: func(c *Cluster) { c.Members[0].DBSize = 1536 << 20 }, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"db-over-quota"}},
	{name: "database over the default quota, quota unknown, no alarm", from: v("3.5.36"), to: "3.6.17", mutate: func(c *Cluster) { c.Live, c.Health, c.Members[0].DBSize = true, "healthy", 4<<30 }, path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"db-over-default-quota"}},
	{name: "database over the default quota, no flag, configured", from: v("3.5.36"), to: "3.6.17", config: "--name=m1", mutate: func(c *Cluster) { c.Live, c.Health, c.Members[0].DBSize = true, "healthy", 4<<30 }, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"db-over-quota"}},
	{name: "database near the default quota", from: v("3.5.36"), to: "3.6.17", mutate: func(c *Cluster) { c.Members[0].DBSize = 1900 << 20 }, path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"db-near-quota"}},
	// 3.7.0 and 3.7.1 judge the data's minimum version from the v2
	// snapshot (etcd-io/etcd#22171, fixed in 3.7.2): patch first.
	{name: "3.7.1 down to 3.6", from: v("3.7.1", "3.7.1"), to: "3.6", path: []string{"3.7.1>3.6.17:downgrade-minor"}, blockers: []string{"downgrade-known-issue"}},
	{name: "3.7.2 down to 3.6", from: v("3.7.2", "3.7.2"), to: "3.6", path: []string{"3.7.2>3.6.17:downgrade-minor"}},
	// etcd ignores unknown keys of a config file: an experimental-* key
	// there does not stop 3.7, its setting is silently off (a warning, not
	// the flag's "exits at start" blocker).
	{name: "config file with experimental keys into 3.7", from: v("3.6.17"), to: "3.7.3", config: "name: m1\nexperimental-initial-corrupt-check: true\nexperimental-snapshot-catch-up-entries: 5000\n",
		path: []string{"3.6.17>3.7.3:minor"}, warns: []string{"config-key-ignored"}, noWarns: []string{"flag-removed"}},
	// A downgrade to 3.5 restarts members on 3.5, which lacks 3.6's flags.
	{name: "3.6 down to 3.5 with feature gates", from: v("3.6.17"), to: "3.5.36", config: "--name=m1 --feature-gates=InitialCorruptCheck=true --watch-progress-notify-interval=5s",
		path: []string{"3.6.17>3.5.36:downgrade-minor"}, blockers: []string{"flag-too-new", "flag-too-new"}},
	// v2 custom data in a 3.5 member's WAL: 3.6 refuses it (etcd-io/etcd#21849).
	{name: "v2 custom data before 3.6", from: v("3.5.36", "3.5.36"), to: "3.6", v2custom: map[string]int{"m2": 3}, path: []string{"3.5.36>3.6.17:minor"}, blockers: []string{"v2-custom-data"}},
	// A WAL nobody could read (a member over SSH, --endpoints alone) is
	// said to be unchecked, not passed over.
	{name: "v2 custom data unknown before 3.6", from: v("3.5.36", "3.5.36", "3.5.36"), to: "3.6", v2custom: map[string]int{"m1": 0, "m3": 0}, path: []string{"3.5.36>3.6.17:minor"}, warns: []string{"v2-custom-unknown"}, text: []string{"could not read the WALs of m2:"}},
	{name: "v2 custom data checked before 3.6", from: v("3.5.36", "3.5.36"), to: "3.6", v2custom: map[string]int{"m1": 0, "m2": 0}, path: []string{"3.5.36>3.6.17:minor"}, noWarns: []string{"v2-custom-unknown"}},
	// Auth-only CVEs concern clusters with etcd auth on.
	{name: "auth off: no auth-only CVE", from: v("3.6.10"), to: "3.6", mutate: func(c *Cluster) { c.Auth = catalog.AuthOff }, path: []string{"3.6.10>3.6.17:patch"},
		warns: []string{"cve"}, text: []string{"CVE-2026-73500"}, noText: []string{"CVE-2026-44283", "CVE-2026-73499"}},
	{name: "auth on: auth-only CVEs", from: v("3.6.10"), to: "3.6", mutate: func(c *Cluster) { c.Auth = catalog.AuthOn }, path: []string{"3.6.10>3.6.17:patch"},
		warns: []string{"cve"}, text: []string{"CVE-2026-44283", "CVE-2026-73499", "CVE-2026-73500"}},
	// Bad input.
	{name: "unknown minor", from: v("3.5.36"), to: "3.9", errLike: "not a known minor"},
	{name: "unknown patch names the nearest", from: v("3.5.36"), to: "3.6.99", errLike: "3.6.17"},
	{name: "malformed target", from: v("3.5.36"), to: "three", errLike: "not a version"},
}

func v(vs ...string) []string { return vs }

func TestScenarios(t *testing.T) {
	if len(scenarios) < 30 {
		t.Fatalf("the table has %d scenarios; keep at least 30", len(scenarios))
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			cl := Cluster{}
			for i, ver := range sc.from {
				cl.Members = append(cl.Members, Member{Name: fmt.Sprintf("m%d", i+1), Version: ver, Reachable: true})
			}
			if sc.mutate != nil {
				sc.mutate(&cl)
			}
			opts := Options{Target: sc.to, Kubernetes: sc.kubernetes, Direct: sc.direct, Now: now, V2WAL: sc.v2wal, V2Custom: sc.v2custom}
			if sc.config != "" {
				c, err := memberconfig.Parse("member.conf", []byte(sc.config))
				if err != nil {
					t.Fatal(err)
				}
				opts.Configs = []*memberconfig.Config{c}
			}
			p, err := Make(cat, cl, opts)
			if sc.errLike != "" {
				if err == nil || !strings.Contains(err.Error(), sc.errLike) {
					t.Fatalf("want error containing %q, got %v", sc.errLike, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var path []string
			for _, s := range p.Path {
				path = append(path, fmt.Sprintf("%s>%s:%s", s.From, s.To, s.Kind))
			}
			if strings.Join(path, " ") != strings.Join(sc.path, " ") {
				t.Errorf("path %v, want %v", path, sc.path)
			}
			var blockers []string
			for _, b := range p.Blockers {
				blockers = append(blockers, b.Code)
			}
			want := append([]string(nil), sc.blockers...)
			sort.Strings(want)
			if strings.Join(blockers, ",") != strings.Join(want, ",") {
				t.Errorf("blockers %v, want %v\n%s", blockers, want, describe(p.Blockers))
			}
			codes := map[string]bool{}
			for _, w := range p.Warnings {
				codes[w.Code] = true
			}
			for _, w := range sc.warns {
				if !codes[w] {
					t.Errorf("missing warning %q; got:\n%s", w, describe(p.Warnings))
				}
			}
			for _, w := range sc.noWarns {
				if codes[w] {
					t.Errorf("unexpected warning %q:\n%s", w, describe(p.Warnings))
				}
			}
			all := describe(append(p.Blockers, p.Warnings...))
			for _, w := range sc.text {
				if !strings.Contains(all, w) {
					t.Errorf("no finding says %q:\n%s", w, all)
				}
			}
			for _, w := range sc.noText {
				if strings.Contains(all, w) {
					t.Errorf("a finding says %q:\n%s", w, all)
				}
			}
			for _, f := range append(p.Blockers, p.Warnings...) {
				if f.Reason == "" || f.Message == "" {
					t.Errorf("finding without reason or message: %+v", f)
				}
			}
		})
	}
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  [%s] %s (%s)\n", f.Code, f.Message, f.Reason)
	}
	return b.String()
}

// A release the module proxy published after the notes is still a
// release: planned to, with a warning that its notes are unknown and
// where to read them.
func TestPlanToAReleaseWithoutNotes(t *testing.T) {
	base, _ := catalog.Default()
	cat := base.WithFeed(&catalog.Feed{Proxy: "https://proxy.golang.org", Fetched: now, Releases: []catalog.Published{{Version: "3.6.18", Time: now}}})
	cl := Cluster{Members: []Member{{Name: "m1", Version: "3.5.36"}}}
	p, err := Make(cat, cl, Options{Target: "3.6", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != "3.6.18" || p.Blocked() {
		t.Fatalf("target %s, blockers %v", p.Target, p.Blockers)
	}
	var notes *Finding
	for i, w := range p.Warnings {
		if w.Code == "notes-unknown" {
			notes = &p.Warnings[i]
		}
	}
	if notes == nil || !strings.Contains(notes.Message, "3.6.18") || !strings.Contains(notes.Link, "CHANGELOG-3.6.md") {
		t.Fatalf("want a notes-unknown warning naming 3.6.18 and the CHANGELOG:\n%s", describe(p.Warnings))
	}
}

// A systemd unit whose --config-file sets enable-v2: the file is read
// (its key judged as a config key, the v2 store a blocker), and the flags
// beside it, which etcd ignores, are named.
func TestUnitWithConfigFile(t *testing.T) {
	dir := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "etcd.yaml"), []byte("name: m1\nenable-v2: true\n"), 0o644))
	unit := filepath.Join(dir, "etcd.service")
	testutil.Must(t, os.WriteFile(unit, []byte("[Service]\nEnvironment=ETCD_CONFIG_FILE="+filepath.Join(dir, "etcd.yaml")+"\nExecStart=/usr/bin/etcd --debug\n"), 0o644))
	c, err := memberconfig.Load(unit)
	testutil.Must(t, err)
	cat, err := catalog.Default()
	testutil.Must(t, err)
	p, err := Make(cat, Cluster{Members: []Member{{Name: "m1", Version: "3.5.36", Reachable: true}}}, Options{Target: "3.6.17", Now: now, Configs: []*memberconfig.Config{c}})
	testutil.Must(t, err)
	codes := func(fs []Finding) (out []string) {
		for _, f := range fs {
			out = append(out, f.Code)
		}
		return out
	}
	if b := codes(p.Blockers); !slices.Contains(b, "v2-store") {
		t.Errorf("blockers %v: the config file's enable-v2 is the v2 store", b)
	}
	w := codes(p.Warnings)
	if !slices.Contains(w, "config-key-ignored") || !slices.Contains(w, "config-file-overrides") {
		t.Errorf("warnings %v", w)
	}
	for _, f := range p.Warnings {
		if f.Code == "config-key-ignored" && !strings.Contains(f.Message, "etcd.yaml:2") {
			t.Errorf("the key is located in the config file: %s", f.Message)
		}
	}
}
