package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// SnapshotOptions configure the snapshot benchmark.
type SnapshotOptions struct {
	Version  string
	Size     int64 // database size to reach
	Runs     int
	Root     string // sandbox state root
	Scratch  string // where snapshots and restored data go
	Binaries *binaries.Manager
	Log      *slog.Logger
	// Progress shows the fill's progress.
	Progress io.Writer
	// Stores opens S3 locations (the S3 bench).
	Stores snapshot.Stores
}

// SnapshotResult holds the timings of both sides.
type SnapshotResult struct {
	DBSize                       int64           `json:"dbSize"`
	SnapshotSize                 int64           `json:"snapshotSize"`
	EtcdctlSave, EtcdpilotSave   []time.Duration `json:"-"`
	EtcdutlRestore, PilotRestore []time.Duration `json:"-"`
	SaveRatio, RestoreRatio      float64         `json:"-"`
}

// Snapshot fills a sandbox and times etcdctl snapshot save against
// etcdpilot's save (hashing, fsync, bbolt verification and HashKV check
// included), then etcdutl snapshot restore against etcdpilot's restore,
// alternating the order run by run.
func Snapshot(ctx context.Context, o SnapshotOptions) (*SnapshotResult, error) {
	etcdctl, err := tool(ctx, o.Binaries, o.Version, "etcdctl")
	if err != nil {
		return nil, err
	}
	etcdutl, err := tool(ctx, o.Binaries, o.Version, "etcdutl")
	if err != nil {
		return nil, err
	}
	sb, sess, err := o.filled(ctx, "bench-snapshot")
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	defer sess.Close()
	log := logging.OrDiscard(o.Log)
	res := &SnapshotResult{}
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	ep := st.Members[0].Endpoint()
	for run := 0; run < o.Runs; run++ {
		sides := []func() error{
			func() error {
				p := filepath.Join(o.Scratch, fmt.Sprintf("etcdctl-%d.db", run))
				start := time.Now()
				out, err := exec.CommandContext(ctx, etcdctl, "--endpoints", ep, "snapshot", "save", p).CombinedOutput()
				if err != nil {
					return fmt.Errorf("etcdctl snapshot save: %v: %s", err, out)
				}
				res.EtcdctlSave = append(res.EtcdctlSave, time.Since(start))
				fi, _ := os.Stat(p)
				res.SnapshotSize = fi.Size()
				return os.Remove(p)
			},
			func() error {
				p := filepath.Join(o.Scratch, fmt.Sprintf("etcdpilot-%d.db", run))
				start := time.Now()
				if _, _, err := snapshot.Save(ctx, sess, p, snapshot.SaveOptions{}); err != nil {
					return err
				}
				res.EtcdpilotSave = append(res.EtcdpilotSave, time.Since(start))
				os.Remove(snapshot.SidecarPath(p))
				return nil // kept for the restore round
			},
		}
		if run%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return nil, err
			}
		}
		log.Info("save run {run}: etcdctl {etcdctl}, etcdpilot {etcdpilot}", "run", run+1, "etcdctl", ms(last(res.EtcdctlSave)), "etcdpilot", ms(last(res.EtcdpilotSave)))
	}
	snap := filepath.Join(o.Scratch, "etcdpilot-0.db")
	defer os.Remove(snap)
	for run := 0; run < o.Runs; run++ {
		sides := []func() error{
			func() error {
				d := filepath.Join(o.Scratch, fmt.Sprintf("etcdutl-%d", run))
				start := time.Now()
				out, err := exec.CommandContext(ctx, etcdutl, "snapshot", "restore", snap, "--data-dir", d, "--name", "a",
					"--initial-cluster", "a=http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380").CombinedOutput()
				if err != nil {
					return fmt.Errorf("etcdutl snapshot restore: %v: %s", err, out)
				}
				res.EtcdutlRestore = append(res.EtcdutlRestore, time.Since(start))
				return os.RemoveAll(d)
			},
			func() error {
				d := filepath.Join(o.Scratch, fmt.Sprintf("pilot-%d", run))
				start := time.Now()
				_, err := snapshot.RestoreDataDirs(snap, []snapshot.Target{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: d}}, snapshot.RestoreOptions{})
				if err != nil {
					return err
				}
				res.PilotRestore = append(res.PilotRestore, time.Since(start))
				return os.RemoveAll(d)
			},
		}
		if run%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return nil, err
			}
		}
		log.Info("restore run {run}: etcdutl {etcdutl}, etcdpilot {etcdpilot}", "run", run+1, "etcdutl", ms(last(res.EtcdutlRestore)), "etcdpilot", ms(last(res.PilotRestore)))
	}
	if cl, err := sess.Status(ctx); err == nil && len(cl.Members) > 0 {
		res.DBSize = cl.Members[0].DBSize
	}
	res.SaveRatio = mbps(res.SnapshotSize, median(res.EtcdpilotSave)) / mbps(res.SnapshotSize, median(res.EtcdctlSave))
	res.RestoreRatio = mbps(res.SnapshotSize, median(res.PilotRestore)) / mbps(res.SnapshotSize, median(res.EtcdutlRestore))
	return res, nil
}

func last(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1]
}

// Table writes the side-by-side table.
func (r *SnapshotResult) Table(w io.Writer) error {
	size := r.SnapshotSize
	fmt.Fprintf(w, "snapshot of %s (database %s), median of %d runs each\n", progress.Bytes(size), progress.Bytes(r.DBSize), len(r.EtcdctlSave))
	rows := [][]string{
		{"", "PLAIN TOOL", "MB/s", "ETCDPILOT", "MB/s", "RATIO (etcdpilot/plain)"},
		{"save", "etcdctl " + ms(median(r.EtcdctlSave)), fmt.Sprintf("%.0f", mbps(size, median(r.EtcdctlSave))), ms(median(r.EtcdpilotSave)), fmt.Sprintf("%.0f", mbps(size, median(r.EtcdpilotSave))), fmt.Sprintf("%.2fx", r.SaveRatio)},
		{"restore", "etcdutl " + ms(median(r.EtcdutlRestore)), fmt.Sprintf("%.0f", mbps(size, median(r.EtcdutlRestore))), ms(median(r.PilotRestore)), fmt.Sprintf("%.0f", mbps(size, median(r.PilotRestore))), fmt.Sprintf("%.2fx", r.RestoreRatio)},
	}
	if err := printer.Table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "etcdpilot's save includes the SHA-256 of the stream and the trailer check, fsync, a bbolt read of revision, keys and HashKV, and the sidecar;")
	fmt.Fprintln(w, "its restore includes the trailer check and bbolt's consistency check of every page before anything is written")
	return nil
}

// fill writes 1 MiB values until the database reaches size.
func fill(ctx context.Context, cfg conn.Config, size int64, out io.Writer) error {
	return Load(ctx, cfg, LoadOptions{Keys: int(size / (1 << 20)), ValueSize: 1 << 20, Prefix: "/bench/",
		Title: fmt.Sprintf("filling the sandbox with %s", progress.Bytes(size))}, out)
}

// filled is a one-member sandbox filled to o.Size and a session on it; the
// caller destroys both.
func (o SnapshotOptions) filled(ctx context.Context, name string) (*sandbox.Sandbox, *cluster.Session, error) {
	sb, err := sandbox.Create(ctx, o.Root, o.Binaries, sandbox.Options{Name: name, Members: 1, Versions: []string{o.Version},
		ExtraFlags: []string{"--quota-backend-bytes=8589934592"}}, o.Log)
	if err != nil {
		return nil, nil, err
	}
	st, _ := sb.State()
	cfg := st.Conn()
	cfg.CommandTimeout = time.Minute
	err = fill(ctx, cfg, o.Size, o.Progress)
	var sess *cluster.Session
	if err == nil {
		sess, err = cluster.Open(cfg, nil)
	}
	if err != nil {
		sb.Destroy(context.Background())
		return nil, nil, err
	}
	return sb, sess, nil
}
