package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// metrics are the agent's Prometheus metrics, on a registry of its own.
// Serving a list of clusters, every series of a cluster carries its
// cluster label; in the single-cluster form there is no such label.
type metrics struct {
	reg   *prometheus.Registry
	fleet bool

	backupLastSuccess  gauges
	backupLastAttempt  gauges
	backupLastOK       gauges
	backupSize         gauges
	backupDuration     gauges
	backupInterval     gauges
	backupRuns         counters
	memberHealthy      gauges
	memberDBSize       gauges
	memberDBInUse      gauges
	leaderChanges      counters
	hashAgree          gauges
	alarms             gauges
	certExpiry         gauges
	checkLastSuccess   gauges
	checkRuns          counters
	skippedOverlapping counters
	defragRuns         counters
	defragMembers      counters
	leader             gauges
	pitrStored         gauges
	pitrCovered        gauges
	pitrSegments       counters
	pitrSegmentBytes   counters
	pitrErrors         counters
	pitrBases          counters
	pitrGaps           counters
	pitrGapRevisions   counters
	pitrSpoolBytes     gauges
	pitrSpoolSegments  gauges
	buildInfo          *prometheus.GaugeVec
}

// gauges and counters are vectors whose first label is the cluster's in a
// fleet.
type gauges struct {
	v     *prometheus.GaugeVec
	fleet bool
}

type counters struct {
	v     *prometheus.CounterVec
	fleet bool
}

func labels(fleet bool, cluster string, lv []string) []string {
	if fleet {
		return append([]string{cluster}, lv...)
	}
	return lv
}

func (g gauges) with(cluster string, lv ...string) prometheus.Gauge {
	return g.v.WithLabelValues(labels(g.fleet, cluster, lv)...)
}

func (g gauges) delete(cluster string, lv ...string) {
	g.v.DeleteLabelValues(labels(g.fleet, cluster, lv)...)
}

// reset drops every series of the cluster.
func (g gauges) reset(cluster string) {
	if g.fleet {
		g.v.DeletePartialMatch(prometheus.Labels{"cluster": cluster})
		return
	}
	g.v.Reset()
}

func (c counters) with(cluster string, lv ...string) prometheus.Counter {
	return c.v.WithLabelValues(labels(c.fleet, cluster, lv)...)
}

func newMetrics(fleet bool, backupAge func() []age) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), fleet: fleet}
	names := func(lv []string) []string {
		if fleet {
			return append([]string{"cluster"}, lv...)
		}
		return lv
	}
	g := func(name, help string, lv ...string) gauges {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcdpilot", Name: name, Help: help}, names(lv))
		m.reg.MustRegister(v)
		return gauges{v, fleet}
	}
	c := func(name, help string, lv ...string) counters {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcdpilot", Name: name, Help: help}, names(lv))
		m.reg.MustRegister(v)
		return counters{v, fleet}
	}
	m.backupLastSuccess = g("backup_last_success_timestamp_seconds", "When the backup job last succeeded (Unix time).", "backup")
	m.backupLastAttempt = g("backup_last_attempt_timestamp_seconds", "When the backup job last ran (Unix time).", "backup")
	m.backupLastOK = g("backup_last_run_success", "1 when the backup job's last run succeeded, 0 when it failed.", "backup")
	m.backupSize = g("backup_last_size_bytes", "Size of the backup job's last snapshot.", "backup")
	m.backupDuration = g("backup_last_duration_seconds", "How long the backup job's last successful run took.", "backup")
	m.backupInterval = g("backup_interval_seconds", "The longest time the backup job's schedule leaves between two runs.", "backup")
	m.backupRuns = c("backup_runs_total", "Backup runs by result (success, failure).", "backup", "result")
	m.memberHealthy = g("member_healthy", "1 when the member answered the last check.", "member")
	m.memberDBSize = g("member_db_size_bytes", "The member's database size at the last check.", "member")
	m.memberDBInUse = g("member_db_size_in_use_bytes", "The part of the member's database in use at the last check.", "member")
	m.alarms = g("alarms", "Alarms raised at the last check, by kind (NOSPACE, CORRUPT).", "alarm")
	m.hashAgree = g("hash_agreement", "The members' key-value hashes at the last check, one series per state (agree, disagree, unknown: fewer than two members compared), 1 for the state that holds.", "state")
	m.certExpiry = g("certificate_expiry_timestamp_seconds", "When a certificate the cluster uses expires (Unix time): kind (ca, client, serving, peer-serving, file), member, and the file or URL it was read from.", "kind", "member", "file")
	m.checkLastSuccess = g("check_last_success_timestamp_seconds", "When the status check last succeeded (Unix time).")
	m.checkRuns = c("check_runs_total", "Status checks by result (success, failure).", "result")
	m.leaderChanges = c("leader_changes_total", "Leader changes seen between checks.")
	m.skippedOverlapping = c("runs_skipped_total", "Scheduled runs skipped because the job's previous run was still under way.", "task")
	m.defragRuns = c("defrag_runs_total", "Scheduled defragmentations by result (success, skipped: no member met the thresholds, failure).", "result")
	m.defragMembers = c("defrag_members_total", "Members defragmented by scheduled runs.")
	m.leader = g("agent_leader", "1 while this agent leads the cluster's agents (it takes the backups and runs the defragmentations), 0 while another does.")
	m.pitrStored = g("pitr_stored_revision", "The newest revision continuous backup has stored.")
	m.pitrCovered = g("pitr_covered_timestamp_seconds", "When continuous backup last knew every revision of the cluster to be stored (Unix time): the RPO is the time since.")
	m.pitrSegments = c("pitr_segments_total", "Segments continuous backup has stored.")
	m.pitrSegmentBytes = c("pitr_segment_bytes_total", "Bytes of the segments continuous backup has stored.")
	m.pitrErrors = c("pitr_segment_errors_total", "Segment writes the store refused (the segment waits in the spool, or in memory, and is written again).")
	m.pitrSpoolBytes = g("pitr_spool_bytes", "Bytes of segments waiting on this machine's disk for the store to take them.")
	m.pitrSpoolSegments = g("pitr_spool_segments", "Segments waiting on this machine's disk for the store to take them.")
	m.pitrBases = c("pitr_bases_total", "Base snapshots continuous backup has taken.")
	m.pitrGaps = c("pitr_gaps_total", "Chains that ended with revisions not recorded (compacted before they were seen, the store refusing too long).")
	m.pitrGapRevisions = c("pitr_gap_revisions_total", "Revisions no chain holds.")
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcdpilot", Name: "build_info", Help: "Always 1; the labels say which etcdpilot runs."}, []string{"version", "revision", "goversion"})
	m.reg.MustRegister(m.buildInfo)
	m.reg.MustRegister(&ageCollector{desc: prometheus.NewDesc("etcdpilot_backup_age_seconds", "Seconds since the backup job's last successful snapshot: from the newest snapshot of the cluster in its store at start, then from each success (absent until one is known).", names([]string{"backup"}), nil), ages: backupAge, fleet: fleet})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// hashStates maps status' hash results to the metric's states.
var hashStates = map[string]string{status.HashAgree: "agree", status.HashMismatch: "disagree", status.HashUnknown: "unknown"}

// setHash sets the state that holds to 1 and the others to 0, so the
// alert can ask for a disagreement alone.
func (m *metrics) setHash(cluster, result string) {
	state, ok := hashStates[result]
	if !ok {
		state = "unknown"
	}
	for _, s := range hashStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.hashAgree.with(cluster, s).Set(v)
	}
}

// members keeps the per-member series of the members in the list and
// drops those of a member that left.
func (m *metrics) members(cluster string, cl *status.Cluster, known map[string]bool) {
	now := map[string]bool{}
	for _, mb := range cl.Members {
		now[mb.Name] = true
		up := 0.0
		if mb.Reachable {
			up = 1
			m.memberDBSize.with(cluster, mb.Name).Set(float64(mb.DBSize))
			m.memberDBInUse.with(cluster, mb.Name).Set(float64(mb.DBSizeInUse))
		}
		m.memberHealthy.with(cluster, mb.Name).Set(up)
	}
	for name := range known {
		if !now[name] {
			m.memberHealthy.delete(cluster, name)
			m.memberDBSize.delete(cluster, name)
			m.memberDBInUse.delete(cluster, name)
			delete(known, name)
		}
	}
	for name := range now {
		known[name] = true
	}
}

// age is one job's backup age.
type age struct {
	cluster, job string
	seconds      float64
}

// ageCollector reports each job's backup age at scrape time.
type ageCollector struct {
	desc  *prometheus.Desc
	ages  func() []age
	fleet bool
}

func (a *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *ageCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range a.ages() {
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, g.seconds, labels(a.fleet, g.cluster, []string{g.job})...)
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
