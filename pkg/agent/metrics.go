package agent

import (
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/status"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the agent's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg *prometheus.Registry

	backupLastSuccess  *prometheus.GaugeVec
	backupLastAttempt  *prometheus.GaugeVec
	backupLastOK       *prometheus.GaugeVec
	backupSize         *prometheus.GaugeVec
	backupDuration     *prometheus.GaugeVec
	backupRuns         *prometheus.CounterVec
	memberHealthy      *prometheus.GaugeVec
	memberDBSize       *prometheus.GaugeVec
	memberDBInUse      *prometheus.GaugeVec
	leaderChanges      prometheus.Counter
	hashAgree          *prometheus.GaugeVec
	backupInterval     *prometheus.GaugeVec
	certExpiry         *prometheus.GaugeVec
	buildInfo          *prometheus.GaugeVec
	alarms             *prometheus.GaugeVec
	checkLastSuccess   prometheus.Gauge
	checkRuns          *prometheus.CounterVec
	skippedOverlapping *prometheus.CounterVec
	defragRuns         *prometheus.CounterVec
	defragMembers      prometheus.Counter
}

func newMetrics(backupAge func() map[string]float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcdpilot", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcdpilot", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.backupLastSuccess = g("backup_last_success_timestamp_seconds", "When the backup job last succeeded (Unix time).", "backup")
	m.backupLastAttempt = g("backup_last_attempt_timestamp_seconds", "When the backup job last ran (Unix time).", "backup")
	m.backupLastOK = g("backup_last_run_success", "1 when the backup job's last run succeeded, 0 when it failed.", "backup")
	m.backupSize = g("backup_last_size_bytes", "Size of the backup job's last snapshot.", "backup")
	m.backupDuration = g("backup_last_duration_seconds", "How long the backup job's last successful run took.", "backup")
	m.backupRuns = c("backup_runs_total", "Backup runs by result (success, failure).", "backup", "result")
	m.memberHealthy = g("member_healthy", "1 when the member answered the last check.", "member")
	m.memberDBSize = g("member_db_size_bytes", "The member's database size at the last check.", "member")
	m.memberDBInUse = g("member_db_size_in_use_bytes", "The part of the member's database in use at the last check.", "member")
	m.alarms = g("alarms", "Alarms raised at the last check, by kind (NOSPACE, CORRUPT).", "alarm")
	m.checkRuns = c("check_runs_total", "Status checks by result (success, failure).", "result")
	m.skippedOverlapping = c("runs_skipped_total", "Scheduled runs skipped because the job's previous run was still under way.", "task")
	m.defragRuns = c("defrag_runs_total", "Scheduled defragmentations by result (success, skipped: no member met the thresholds, failure).", "result")
	m.defragMembers = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcdpilot", Name: "defrag_members_total", Help: "Members defragmented by scheduled runs."})
	m.reg.MustRegister(m.defragMembers)
	m.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcdpilot", Name: "leader_changes_total", Help: "Leader changes seen between checks."})
	m.hashAgree = g("hash_agreement", "The members' key-value hashes at the last check, one series per state (agree, disagree, unknown: fewer than two members compared), 1 for the state that holds.", "state")
	m.setHash(status.HashUnknown)
	m.backupInterval = g("backup_interval_seconds", "The longest time the backup job's schedule leaves between two runs.", "backup")
	m.certExpiry = g("certificate_expiry_timestamp_seconds", "When a certificate the cluster uses expires (Unix time): kind (ca, client, serving, peer-serving, file), member, and the file or URL it was read from.", "kind", "member", "file")
	m.buildInfo = g("build_info", "Always 1; the labels say which etcdpilot runs.", "version", "revision", "goversion")
	m.checkLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "etcdpilot", Name: "check_last_success_timestamp_seconds", Help: "When the status check last succeeded (Unix time)."})
	m.reg.MustRegister(m.leaderChanges, m.checkLastSuccess)
	m.reg.MustRegister(newAgeCollector(backupAge))
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// hashStates maps status' hash results to the metric's states.
var hashStates = map[string]string{status.HashAgree: "agree", status.HashMismatch: "disagree", status.HashUnknown: "unknown"}

// setHash sets the state that holds to 1 and the others to 0, so the
// alert can ask for a disagreement alone.
func (m *metrics) setHash(result string) {
	state, ok := hashStates[result]
	if !ok {
		state = "unknown"
	}
	for _, s := range hashStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.hashAgree.WithLabelValues(s).Set(v)
	}
}

// members keeps the per-member series of the members in the list and
// drops those of a member that left.
func (m *metrics) members(cl *status.Cluster, known map[string]bool) {
	now := map[string]bool{}
	for _, mb := range cl.Members {
		now[mb.Name] = true
		up := 0.0
		if mb.Reachable {
			up = 1
			m.memberDBSize.WithLabelValues(mb.Name).Set(float64(mb.DBSize))
			m.memberDBInUse.WithLabelValues(mb.Name).Set(float64(mb.DBSizeInUse))
		}
		m.memberHealthy.WithLabelValues(mb.Name).Set(up)
	}
	for name := range known {
		if !now[name] {
			m.memberHealthy.DeleteLabelValues(name)
			m.memberDBSize.DeleteLabelValues(name)
			m.memberDBInUse.DeleteLabelValues(name)
			delete(known, name)
		}
	}
	for name := range now {
		known[name] = true
	}
}

// ageCollector reports each job's backup age at scrape time.
type ageCollector struct {
	desc *prometheus.Desc
	ages func() map[string]float64
}

func newAgeCollector(ages func() map[string]float64) *ageCollector {
	return &ageCollector{desc: prometheus.NewDesc("etcdpilot_backup_age_seconds", "Seconds since the backup job's last successful snapshot (absent before the first).", []string{"backup"}, nil), ages: ages}
}

func (a *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *ageCollector) Collect(ch chan<- prometheus.Metric) {
	for job, age := range a.ages() {
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, age, job)
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
