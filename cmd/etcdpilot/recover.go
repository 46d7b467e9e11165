package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/recovery"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newRecoverCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Bring a cluster back after it lost its quorum: from its best survivor, or from a snapshot",
	}
	cmd.AddCommand(newRecoverPlanCmd(g), newRecoverApplyCmd(g))
	return cmd
}

// recoverFlags are the recover commands'.
type recoverFlags struct {
	applyFlags
	snapshotFile string
	snapshotDirs []string
	force        bool
	otherCluster bool
}

func (f *recoverFlags) register(cmd *cobra.Command, parts target.Parts) {
	f.t.Register(cmd.Flags(), parts)
	cmd.Flags().StringVar(&f.snapshotFile, "snapshot", "", "recover from this snapshot: a file, or s3://bucket/prefix/NAME (fetched, checked against its SHA-256, kept under <state-dir>/snapshots)")
	cmd.Flags().StringSliceVar(&f.snapshotDirs, "snapshot-dir", nil, "directories searched for the cluster's newest snapshot (default: the sandbox's, and <state-dir>/snapshots)")
	cmd.Flags().BoolVar(&f.force, "force", false, "recover although the quorum holds (it costs data: member replace is the way)")
	cmd.Flags().BoolVar(&f.otherCluster, "other-cluster", false, "accept a --snapshot of another cluster (its keys replace this cluster's)")
}

// options opens the session and the runtime (a sandbox).
func (f *recoverFlags) options(cmd *cobra.Command, g *globals) (recovery.ApplyOptions, error) {
	var o recovery.ApplyOptions
	file, err := recoverySnapshot(cmd.Context(), g, f.snapshotFile)
	if err != nil {
		return o, err
	}
	t, err := g.open(cmd, f.t, target.Connect)
	if err != nil {
		return o, err
	}
	o.Session, o.Runtime, o.Snapshot, o.Force, o.Resume, o.GateTimeout, o.Log = t.Session, t.Runtime, file, f.force, f.resume, f.gateTimeout, g.log
	o.OtherCluster = f.otherCluster
	o.SnapshotDirs = append(o.SnapshotDirs, f.snapshotDirs...)
	if cat, err := g.catalog(); err == nil {
		o.Catalog = cat
	}
	if len(f.snapshotDirs) == 0 {
		o.SnapshotDirs = append(o.SnapshotDirs, filepath.Join(g.root(), "snapshots"))
	}
	if t.Sandbox != nil {
		sb := t.Sandbox
		if len(f.snapshotDirs) == 0 {
			o.SnapshotDirs = append(o.SnapshotDirs, sb.Dir)
		}
		o.RestoreCluster = func(ctx context.Context, file string) error {
			_, err := snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{OtherCluster: f.otherCluster})
			return err
		}
	}
	// The journal: --journal, the sandbox's, or the state directory's by
	// the cluster ID of the member list (a lost cluster may not give one:
	// apply then asks for --journal).
	o.JournalPath, _ = t.Journal(cmd.Context())
	return o, nil
}

func newRecoverPlanCmd(g *globals) *cobra.Command {
	var f recoverFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Say how to bring back a cluster that lost its quorum, and what each way loses",
		Example: `  etcdpilot recover plan --sandbox demo
  etcdpilot recover plan --kubeadm --ssh root@{host} --snapshot-dir /var/backups/etcd`,
		Long: `Read which members answer (applied index, revision, hash), what the runtime
knows of the others (data directory there, process gone, the revision in
their data), and the newest snapshot of the cluster; propose the recovery
from the best survivor (the reachable voting member with the highest applied
index, whose data is kept) or from the snapshot, with the revisions it loses
against the most advanced state seen. While the quorum holds, it says so and
points to member replace.

Exit status: 0 when a recovery is possible (or not needed), 1 when none is,
2 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, g)
			if o.Session != nil {
				defer o.Session.Close()
			}
			if err != nil {
				return err
			}
			p, err := recovery.MakePlan(cmd.Context(), o.Options)
			if err != nil {
				return err
			}
			return g.printPlan(cmd, p, p.Refusal)
		},
	}
	f.register(cmd, target.Naming|target.Runtimes)
	return cmd
}

func newRecoverApplyCmd(g *globals) *cobra.Command {
	var f recoverFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Carry out the recovery plan: journaled, resumable, refused while the quorum holds",
		Example: `  etcdpilot recover apply --sandbox demo
  etcdpilot recover apply --kubeadm --ssh root@{host} --snapshot s3://backups/etcd/prod-20261204T0300Z.db
  etcdpilot recover apply --sandbox demo --resume`,
		Long: `From the best survivor: every other member stopped and its data directory
moved aside (never deleted); the survivor restarted once with
--force-new-cluster, then without it; every other member re-added as a
learner with a fresh data directory, started and promoted once it has caught
up. From a snapshot: the snapshot verified, every member restored from it
(a new cluster ID) and started. Then: every member healthy, their hashes
agreeing, every member on the same revision.

Every step is journaled; --resume (or the same command) carries on after a
crash with the steps first planned — a survivor never gets
--force-new-cluster twice. Refused while the quorum holds (member replace is
the way), unless --force. Needs --sandbox (a runtime that can provision
members and start one with extra flags).

Exit status: 0 recovered, 2 refused or failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, g)
			if o.Session != nil {
				defer o.Session.Close()
			}
			if err != nil {
				return err
			}
			if o.JournalPath == "" {
				return errors.New("say where the recovery journal goes: --journal FILE (no member answers with the cluster ID that names it; a sandbox keeps its own)")
			}
			r, err := recovery.Apply(cmd.Context(), o)
			if r != nil {
				if perr := g.print(cmd, r); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	f.register(cmd, target.Naming|target.Runtimes|target.Journal)
	cmd.Flags().BoolVar(&f.resume, "resume", false, "continue the unfinished recovery in the journal")
	cmd.Flags().DurationVar(&f.gateTimeout, "gate-timeout", 60*time.Second, "how long each step may wait for the cluster")
	positive(cmd, "gate-timeout")
	return cmd
}

// recoverySnapshot makes --snapshot a local file: one in object storage
// (s3://bucket/prefix/NAME) is fetched, checked against its recorded
// SHA-256 and decoded, then kept under <state-dir>/snapshots, where a
// resumed recovery finds it again and later ones look for snapshots.
func recoverySnapshot(ctx context.Context, g *globals, location string) (string, error) {
	if !strings.Contains(location, "://") {
		return location, nil
	}
	dest := filepath.Join(g.root(), "snapshots", strings.TrimSuffix(strings.TrimSuffix(path.Base(location), ".zst"), ".age"))
	if fsutil.Exists(dest) {
		g.log.Info("--snapshot {snapshot}: using the copy fetched before, {file}", "snapshot", location, "file", dest)
		return dest, nil
	}
	tmp, done, err := g.stores.Local(ctx, location)
	if err != nil {
		return "", fmt.Errorf("--snapshot %s: %w; nothing was stopped", location, err)
	}
	defer done()
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return "", err
	}
	if err := fsutil.CopyFile(tmp, dest, 0o600, false); err != nil {
		return "", err
	}
	// The sidecar says which cluster it is of: kept beside the copy.
	if sc, err := g.stores.SidecarAt(ctx, location); err == nil {
		if err := snapshot.WriteSidecar(dest, sc); err != nil {
			return "", err
		}
	}
	g.log.Info("--snapshot {snapshot}: fetched and checked into {file}", "snapshot", location, "file", dest)
	return dest, nil
}
