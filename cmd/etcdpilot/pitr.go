package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newSnapshotFollowCmd(g *globals) *cobra.Command {
	var compress string
	var recipients []string
	var tf target.Flags
	var spoolDir, spoolSize string
	f := pitr.Follow{}
	cmd := &cobra.Command{
		Use:   "follow DIR|s3://BUCKET/PREFIX/",
		Short: "Continuous backup: a base snapshot, then every revision as it happens, restorable to any revision or time",
		Example: `  etcdpilot snapshot follow /var/backups/etcd --sandbox demo
  etcdpilot snapshot follow s3://backups/etcd/ --kubeadm --compress zstd --full-every 1h`,
		Long: `Take a full snapshot (the base), then watch the whole key space from its
revision and write what happens to the store as segments: every --flush
(or at --segment-size), each revision's events kept together, with their
SHA-256, compressed and encrypted as snapshots are. Every --full-every a new
base starts a new chain; the old chain ends only once it holds the new base's
revision. Stopped and started again, it resumes the chain where it ended if
etcd still has those revisions; otherwise the revisions missed are a gap and a
new base is taken at once. While the store refuses writes, segments wait on
this machine's disk (--spool, up to --spool-size) and are sent in order once it
is back; past the bound the chain ends and the gap is reported. Runs until
interrupted.

What it records is restored with snapshot restore STORE --to-revision R or
--to-time T, and listed by snapshot ls STORE --points.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if compress != "" && compress != "zstd" {
				return fmt.Errorf("--compress %q: zstd is the one compression offered", compress)
			}
			enc := snapshot.Encoding{Compress: compress == "zstd", Recipients: recipients}
			if _, err := snapshot.ParseRecipients(recipients); err != nil {
				return err
			}
			var err error
			if f.Recorder.Spool, err = spool(g, args[0], spoolDir, spoolSize); err != nil {
				return err
			}
			store, err := g.stores.Open(cmd.Context(), args[0], true)
			if err != nil {
				return err
			}
			t, err := g.open(cmd, tf, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			f.Session, f.Store, f.Location, f.Log = t.Session, store, args[0], g.log
			f.Save = snapshot.SaveOptions{Version: Version, Encoding: enc, Stores: g.stores}
			f.Recorder.Encoding = enc
			f.Recorder.Log = g.log
			f.Recorder.Stored = func(h *pitr.Header, n int) {
				g.log.Debug("segment stored", "first", h.First, "last", h.Last, "events", h.Events, "bytes", n)
			}
			f.Gap = func(gap pitr.Gap, why string) {
				g.log.Warn("revisions not recorded", "from", gap.From, "to", gap.To, "reason", why)
			}
			g.log.Info("following", "store", store.String())
			return f.Run(cmd.Context())
		},
	}
	tf.Register(cmd.Flags(), target.Naming)
	cmd.Flags().DurationVar(&f.FullEvery, "full-every", time.Hour, "start a new chain from a new base snapshot this often (0: never)")
	cmd.Flags().DurationVar(&f.Recorder.Flush, "flush", time.Second, "write what was seen this often")
	cmd.Flags().IntVar(&f.Recorder.MaxBytes, "segment-size", 8<<20, "cut a segment at this many bytes of events")
	cmd.Flags().StringVar(&compress, "compress", "", "store bases and segments compressed: zstd")
	cmd.Flags().StringArrayVar(&recipients, "encrypt", nil, "store bases and segments encrypted for this age recipient (repeatable)")
	cmd.Flags().StringVar(&spoolDir, "spool", "", "keep segments the store refuses in this directory until it takes them (default: under the state directory, one per store)")
	cmd.Flags().StringVar(&spoolSize, "spool-size", "1GiB", "at most this much in the spool; beyond it the chain ends (0: no spool, 64 MiB in memory)")
	return cmd
}

// spool is the --spool and --spool-size of a store (nil for size 0).
func spool(g *globals, location, dir, size string) (*pitr.Spool, error) {
	n, err := pitr.ParseSpoolSize(size)
	if err != nil {
		return nil, fmt.Errorf("--spool-size %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	if dir == "" {
		dir = pitr.SpoolDir(g.root(), location)
	}
	return &pitr.Spool{Dir: dir, Max: n}, nil
}

// pointFlags turn a store into one of its points.
type pointFlags struct {
	revision  int64
	at        string
	strict    bool
	clusterID string
}

func (p *pointFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&p.revision, "to-revision", 0, "with a store (DIR or s3://BUCKET/PREFIX/) that snapshot follow writes: the cluster at this revision")
	fs.StringVar(&p.at, "to-time", "", "with such a store: the cluster at this time (RFC 3339): the newest revision recorded at or before it")
	fs.BoolVar(&p.strict, "strict", false, "refuse when a segment before the point is missing or damaged (default: stop at the last good revision and say so)")
	fs.StringVar(&p.clusterID, "cluster-id", "", "the cluster whose history to use, where the store holds several")
}

func (p *pointFlags) set() bool { return p.revision != 0 || p.at != "" }

// rebuild writes the point's snapshot into a scratch directory (removed
// by done); source, when set, is asked for the proof.
func (p *pointFlags) rebuild(cmd *cobra.Command, g *globals, location string, source *cluster.Session) (*pitr.Point, func(), error) {
	if p.revision != 0 && p.at != "" {
		return nil, nil, fmt.Errorf("give --to-revision or --to-time, not both")
	}
	req := pitr.Request{Identity: g.stores.AgeIdentity, Cluster: p.clusterID, Revision: p.revision, Strict: p.strict, Source: source}
	if p.at != "" {
		t, err := time.Parse(time.RFC3339, p.at)
		if err != nil {
			return nil, nil, fmt.Errorf("--to-time %q: give a time as 2026-12-04T15:04:05Z (RFC 3339)", p.at)
		}
		req.Time = t
	}
	if snapshot.IsSnapshotName(filepath.Base(location)) {
		return nil, nil, fmt.Errorf("%s is one snapshot: --to-revision and --to-time take the store that holds it (its directory, or s3://BUCKET/PREFIX/)", location)
	}
	store, err := g.stores.Open(cmd.Context(), location, false)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "etcdpilot-point-")
	if err != nil {
		return nil, nil, err
	}
	done := func() { os.RemoveAll(dir) }
	req.Store, req.Out = store, filepath.Join(dir, "point.db")
	pt, err := pitr.Rebuilt(cmd.Context(), req)
	if err != nil {
		done()
		return nil, nil, err
	}
	fmt.Fprintf(g.progress(cmd), "rebuilt revision %d from %s and %d segments\n", pt.Revision, pt.Base, pt.Segments)
	if pt.Proof != nil && pt.Proof.State == "differs" {
		done()
		return nil, nil, fmt.Errorf("the rebuild at revision %d is not the source's: %s; nothing was restored", pt.Revision, pt.Proof.Reason)
	}
	return pt, done, nil
}

// pointSource is the cluster a rebuild is proven against: the one the
// command names, when it names one (nil otherwise). Flags that cannot
// name a cluster (a missing manifest) are an error; a cluster that does
// not answer leaves the proof unavailable, said in the output.
func pointSource(cmd *cobra.Command, g *globals, tf target.Flags) (*cluster.Session, func(), error) {
	if tf.Sandbox == "" && !tf.Kubeadm && len(g.endpointsGiven) == 0 {
		return nil, func() {}, nil
	}
	tf.Runtime = ""
	t, err := g.open(cmd, tf, target.Connect)
	if err != nil {
		return nil, nil, err
	}
	return t.Session, func() { t.Close() }, nil
}

// verifyPoint rebuilds a point and verifies the file (with a drill on
// the base's etcd version unless --etcd-version).
func verifyPoint(cmd *cobra.Command, g *globals, location string, pf pointFlags, tf target.Flags, drill bool, etcdVersion string) error {
	source, closeSource, err := pointSource(cmd, g, tf)
	if err != nil {
		return err
	}
	defer closeSource()
	pt, done, err := pf.rebuild(cmd, g, location, source)
	if err != nil {
		return err
	}
	defer done()
	if etcdVersion == "" {
		etcdVersion = pt.Sidecar.EtcdVersion
	}
	r, err := snapshot.Verify(cmd.Context(), pt.File, snapshot.VerifyOptions{Drill: drill, EtcdVersion: etcdVersion, Binaries: g.binaries(g.progress(cmd)), Log: g.log})
	if err != nil {
		return err
	}
	r.File = fmt.Sprintf("%s at revision %d", location, pt.Revision)
	v := &pitr.Verified{Point: pt, Report: r}
	if err := g.print(cmd, v); err != nil {
		return err
	}
	if !v.OK() {
		return quietNo
	}
	return nil
}
