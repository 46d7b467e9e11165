// Package agent is etcdpilot's long-running process for one cluster:
// backups on a schedule into any snapshot store with retention, status and
// hash checks, and the Prometheus metrics and health endpoint that say how
// both are doing. Runs of one job never overlap; a stop waits for the runs
// under way.
package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"go.yaml.in/yaml/v3"
)

// Config is the agent's configuration file: either jobs at the top, for
// the one cluster named on the command line, or a list of clusters, each
// with its connection settings and its jobs (one agent serving a fleet).
type Config struct {
	// Listen is where /metrics and /healthz are served.
	Listen string `yaml:"listen"`
	// Clusters, when given, are served each with its own jobs; their
	// metrics carry a cluster label.
	Clusters []Cluster `yaml:"clusters"`
	// Jobs at the top are the single-cluster form.
	Jobs `yaml:",inline"`
	// Election, on unless false: agents of one cluster elect, in the
	// cluster (a key under /etcdpilot/agent/ with a lease), the one that
	// takes the backups and runs the defragmentations.
	Election *bool `yaml:"election"`
}

// Elects says whether the agents of a cluster elect a leader.
func (c *Config) Elects() bool { return c.Election == nil || *c.Election }

// Jobs are what the agent does for one cluster.
type Jobs struct {
	// Backups are the scheduled snapshots.
	Backups []Backup `yaml:"backups"`
	// Checks is the schedule of status and hash checks.
	Checks *Check `yaml:"checks"`
	// Defrag is the schedule and thresholds of rolling defragmentations.
	Defrag *Defrag `yaml:"defrag"`
	// Continuous is continuous backup (snapshot follow's): restorable to
	// any revision or time.
	Continuous *Continuous `yaml:"continuous"`
	// MemberConfigs are member configuration files (a kubeadm manifest,
	// a systemd unit, an etcd config file), as status --member-config
	// takes them: the certificate files they name are exported with the
	// rest. Read at start.
	MemberConfigs []string `yaml:"memberConfigs"`

	configs []*memberconfig.Config
}

func (j *Jobs) empty() bool {
	return len(j.Backups) == 0 && j.Checks == nil && j.Defrag == nil && j.Continuous == nil
}

// Cluster is one cluster of a fleet: etcdctl's connection settings (the
// password read from a file, never from this one) and its jobs.
type Cluster struct {
	Name           string        `yaml:"name"`
	Endpoints      []string      `yaml:"endpoints"`
	CACert         string        `yaml:"cacert"`
	Cert           string        `yaml:"cert"`
	Key            string        `yaml:"key"`
	User           string        `yaml:"user"`
	PasswordFile   string        `yaml:"passwordFile"`
	DialTimeout    time.Duration `yaml:"dialTimeout"`
	CommandTimeout time.Duration `yaml:"commandTimeout"`
	Jobs           `yaml:",inline"`

	password string
}

// Conn is the cluster's connection configuration.
func (c *Cluster) Conn() conn.Config {
	return conn.Config{Endpoints: c.Endpoints, CACert: c.CACert, Cert: c.Cert, Key: c.Key, User: c.User, Password: c.password,
		DialTimeout: c.DialTimeout, CommandTimeout: c.CommandTimeout}
}

// Fleet says whether the file lists clusters (their metrics then carry a
// cluster label).
func (c *Config) Fleet() bool { return len(c.Clusters) > 0 && c.Clusters[0].Listed() }

// Listed says whether the cluster comes from the file's list (else it is
// the one named on the command line).
func (c *Cluster) Listed() bool { return len(c.Endpoints) > 0 }

// Defrag is a scheduled rolling defragmentation (etcdpilot defrag): on
// each run, the members that meet the thresholds are defragmented one at
// a time, the leader last after a hand-off; the others are skipped.
type Defrag struct {
	Schedule Schedule `yaml:"schedule"`
	// IfFree ("200MiB") and IfFragmented ("45%") are defrag's thresholds;
	// at least one is required, or every run would defragment every member.
	IfFree       string `yaml:"ifFree"`
	IfFragmented string `yaml:"ifFragmented"`
	// Compact compacts first, keeping CompactKeep revisions.
	Compact     bool  `yaml:"compact"`
	CompactKeep int64 `yaml:"compactKeep"`
	// Timeout bounds one member's defragmentation (default 10m).
	Timeout time.Duration `yaml:"timeout"`

	free       int64
	fragmented float64
}

// Backup is one backup job.
type Backup struct {
	Name     string   `yaml:"name"`
	Schedule Schedule `yaml:"schedule"`
	// Store is a directory or s3://bucket/prefix/.
	Store string `yaml:"store"`
	// Keep is the retention applied after each successful backup.
	Keep Keep `yaml:"keep"`
	// Timeout bounds one backup (default 1 h: multi-GiB databases).
	Timeout time.Duration `yaml:"timeout"`
	// Compress is "zstd" or empty; Encrypt lists age recipients.
	Compress string   `yaml:"compress"`
	Encrypt  []string `yaml:"encrypt"`
}

// Continuous is continuous backup: a base snapshot, then every revision
// as it happens, in segments; a new base every FullEvery.
type Continuous struct {
	// Store is a directory or s3://bucket/prefix/ (a backup job's may be
	// shared: the chains' bases are snapshots there).
	Store     string        `yaml:"store"`
	FullEvery time.Duration `yaml:"fullEvery"`
	Flush     time.Duration `yaml:"flush"`
	// SegmentSize cuts a segment early ("8MiB", the default).
	SegmentSize string `yaml:"segmentSize"`
	// Keep is applied after each new base; segments go with their base.
	Keep     Keep     `yaml:"keep"`
	Compress string   `yaml:"compress"`
	Encrypt  []string `yaml:"encrypt"`
	// Spool bounds the segments kept on this machine's disk (under the
	// state directory) while the store refuses them ("1GiB", the
	// default; "0" keeps them in memory only, up to 64 MiB).
	Spool string `yaml:"spool"`

	segmentSize, spool int64
}

func (c *Continuous) check() error {
	if c.Store == "" {
		return errors.New("no store (a directory or s3://bucket/prefix/)")
	}
	if c.FullEvery == 0 {
		c.FullEvery = time.Hour
	}
	if c.FullEvery < time.Minute {
		return fmt.Errorf("fullEvery %s: a base is a full snapshot: at most one a minute", c.FullEvery)
	}
	if c.Flush == 0 {
		c.Flush = time.Second
	}
	if c.Flush < 10*time.Millisecond || c.Flush > time.Minute {
		return fmt.Errorf("flush %s: give 10ms to 1m (the RPO is about this)", c.Flush)
	}
	c.segmentSize = 8 << 20
	if c.SegmentSize != "" {
		n, err := defrag.ParseBytes(c.SegmentSize)
		if err != nil || n < 4096 {
			return fmt.Errorf("segmentSize %q: give a size such as 8MiB", c.SegmentSize)
		}
		c.segmentSize = n
	}
	var err error
	if c.spool, err = pitr.ParseSpoolSize(c.Spool); err != nil {
		return fmt.Errorf("spool %w", err)
	}
	if c.Compress != "" && c.Compress != "zstd" {
		return fmt.Errorf("compress %q: zstd is the one compression offered", c.Compress)
	}
	_, err = snapshot.ParseRecipients(c.Encrypt)
	return err
}

// Keep is a retention policy (snapshot prune's).
type Keep struct {
	Last   int `yaml:"last"`
	Hourly int `yaml:"hourly"`
	Daily  int `yaml:"daily"`
}

// Check schedules the status and hash checks.
type Check struct {
	Schedule Schedule `yaml:"schedule"`
}

// Schedule is a cron expression (five fields, or @every 30s, @hourly...)
// checked when the file is read, with its line for errors.
type Schedule struct {
	Spec string
	Line int
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// UnmarshalYAML reads and checks a schedule.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	s.Line = n.Line
	if err := n.Decode(&s.Spec); err != nil {
		return err
	}
	if _, err := parser.Parse(s.Spec); err != nil {
		return fmt.Errorf("line %d: schedule %q: %v (five cron fields, or @every 1h, @daily)", n.Line, s.Spec, err)
	}
	return nil
}

// limits are the shortest intervals between runs: a verified snapshot
// takes a while and loads the cluster; checks are cheap, and so is a
// defrag run that finds no member over its thresholds (a status call),
// while one that finds some defragments them and only then frees its
// schedule (runs never overlap).
type limits struct{ backup, defrag, check time.Duration }

var defaultLimits = limits{backup: time.Minute, defrag: 5 * time.Second, check: 5 * time.Second}

// Longest is the longest gap the schedule leaves between two runs over
// the eight days from now (a weekday-only cron leaves the weekend).
func (s Schedule) Longest() time.Duration {
	sched, err := parser.Parse(s.Spec)
	if err != nil {
		return 0
	}
	t := sched.Next(time.Now())
	end := t.Add(8 * 24 * time.Hour)
	var longest time.Duration
	for i := 0; i < 10000 && t.Before(end); i++ {
		n := sched.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	return longest
}

// atLeast refuses a schedule that runs more often than min.
func (s Schedule) atLeast(what string, min time.Duration) error {
	sched, err := parser.Parse(s.Spec)
	if err != nil {
		return err
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := sched.Next(t0)
	if every := sched.Next(t1).Sub(t1); every < min {
		return fmt.Errorf("line %d: %s schedule %q runs every %s: the shortest is every %s", s.Line, what, s.Spec, every, min)
	}
	return nil
}

// Load reads a configuration file strictly: an unknown key or a bad
// schedule is refused with its line.
func Load(path string) (*Config, error) { return load(path, defaultLimits) }

func load(path string, lim limits) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9479"
	}
	if len(c.Clusters) > 0 {
		if !c.Jobs.empty() {
			return nil, fmt.Errorf("%s: jobs at the top serve the cluster named on the command line; with clusters listed, give each cluster its jobs", path)
		}
		return &c, c.checkClusters(path, lim)
	}
	if c.Jobs.empty() {
		return nil, fmt.Errorf("%s: nothing to do: give backups, continuous, checks or defrag (or clusters, each with its jobs)", path)
	}
	if err := c.Jobs.check(path, lim); err != nil {
		return nil, err
	}
	c.Clusters = []Cluster{{Jobs: c.Jobs}}
	return &c, nil
}

// checkClusters checks a fleet: names unique and fit for a label, each
// with endpoints and jobs; passwords read from their files.
func (c *Config) checkClusters(path string, lim limits) error {
	seen := map[string]bool{}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		if !clusterName.MatchString(cl.Name) {
			return fmt.Errorf("%s: cluster %d: name %q: give each cluster a name of letters, digits, '-', '_' or '.' (it labels its metrics)", path, i+1, cl.Name)
		}
		if seen[cl.Name] {
			return fmt.Errorf("%s: cluster %s is listed twice", path, cl.Name)
		}
		seen[cl.Name] = true
		if len(cl.Endpoints) == 0 {
			return fmt.Errorf("%s: cluster %s has no endpoints", path, cl.Name)
		}
		if cl.Jobs.empty() {
			return fmt.Errorf("%s: cluster %s: nothing to do: give backups, continuous, checks or defrag", path, cl.Name)
		}
		if cl.PasswordFile != "" {
			b, err := os.ReadFile(cl.PasswordFile)
			if err != nil {
				return fmt.Errorf("%s: cluster %s: passwordFile: %v", path, cl.Name, err)
			}
			cl.password = strings.TrimRight(string(b), "\r\n")
		}
		if err := cl.Jobs.check(path+": cluster "+cl.Name, lim); err != nil {
			return err
		}
	}
	return nil
}

var clusterName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// check fills the defaults of one cluster's jobs and refuses what cannot
// run.
func (c *Jobs) check(path string, lim limits) error {
	names := map[string]bool{}
	for i := range c.Backups {
		b := &c.Backups[i]
		if b.Name == "" {
			b.Name = fmt.Sprintf("backup-%d", i+1)
		}
		if names[b.Name] {
			return fmt.Errorf("%s: backup %s is named twice", path, b.Name)
		}
		names[b.Name] = true
		if b.Store == "" {
			return fmt.Errorf("%s: line %d: backup %s has no store (a directory or s3://bucket/prefix/)", path, b.Schedule.Line, b.Name)
		}
		if b.Schedule.Spec == "" {
			return fmt.Errorf("%s: backup %s has no schedule", path, b.Name)
		}
		if err := b.Schedule.atLeast("backup "+b.Name, lim.backup); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if b.Timeout <= 0 {
			b.Timeout = time.Hour
		}
		if b.Compress != "" && b.Compress != "zstd" {
			return fmt.Errorf("%s: backup %s: compress %q: zstd is the one compression offered", path, b.Name, b.Compress)
		}
		if _, err := snapshot.ParseRecipients(b.Encrypt); err != nil {
			return fmt.Errorf("%s: backup %s: %v", path, b.Name, err)
		}
	}
	if c.Checks != nil && c.Checks.Schedule.Spec == "" {
		return fmt.Errorf("%s: checks have no schedule", path)
	}
	if c.Checks != nil {
		if err := c.Checks.Schedule.atLeast("checks", lim.check); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	if d := c.Defrag; d != nil {
		if err := d.check(lim.defrag); err != nil {
			return fmt.Errorf("%s: defrag: %v", path, err)
		}
	}
	if ct := c.Continuous; ct != nil {
		if err := ct.check(); err != nil {
			return fmt.Errorf("%s: continuous: %v", path, err)
		}
	}
	for _, f := range c.MemberConfigs {
		mc, err := memberconfig.Load(f)
		if err != nil {
			return fmt.Errorf("%s: memberConfigs: %v", path, err)
		}
		c.configs = append(c.configs, mc)
	}
	return nil
}

func (d *Defrag) check(min time.Duration) error {
	if d.Schedule.Spec == "" {
		return errors.New("no schedule")
	}
	if err := d.Schedule.atLeast("defrag", min); err != nil {
		return err
	}
	if d.IfFree == "" && d.IfFragmented == "" {
		return fmt.Errorf("line %d: give ifFree (200MiB) or ifFragmented (45%%), or each run defragments every member", d.Schedule.Line)
	}
	var err error
	if d.IfFree != "" {
		if d.free, err = defrag.ParseBytes(d.IfFree); err != nil {
			return fmt.Errorf("ifFree: %v", err)
		}
	}
	if d.IfFragmented != "" {
		if d.fragmented, err = defrag.Fragmentation(d.IfFragmented); err != nil {
			return fmt.Errorf("ifFragmented: %v", err)
		}
	}
	if d.CompactKeep < 0 {
		return errors.New("compactKeep must not be negative")
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Minute
	}
	return nil
}
