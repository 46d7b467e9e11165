package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/pitr"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

func newSnapshotCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Checksummed, atomic, restorable snapshots: save, verify, restore, ls, prune",
	}
	cmd.AddCommand(newSnapshotSaveCmd(g), newSnapshotVerifyCmd(g), newSnapshotRestoreCmd(g), newSnapshotLsCmd(g), newSnapshotPruneCmd(g), newSnapshotFollowCmd(g))
	return cmd
}

func newSnapshotSaveCmd(g *globals) *cobra.Command {
	var from, compress string
	var recipients []string
	var memberHash bool
	var tf target.Flags
	cmd := &cobra.Command{
		Use:   "save [DIR|FILE|s3://BUCKET/PREFIX/[NAME]]",
		Short: "Stream a snapshot from the most caught-up healthy member into a file, with a JSON sidecar",
		Example: `  etcdpilot snapshot save /var/backups/etcd --sandbox demo
  etcdpilot snapshot save s3://backups/etcd/ --kubeadm --compress zstd
  etcdpilot snapshot save backup.db --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key --encrypt age1...`,
		Long: `Stream a snapshot through the Maintenance API into a 0600 temporary file,
hashing it on the way; check etcd's SHA-256 trailer, fsync, open it with
bbolt and compare its HashKV with the member's; then rename it into place.
A JSON sidecar (FILE.json) records cluster, member, version, revision, key
count, size, SHA-256 and HashKV.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := g.open(cmd, tf, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			s := t.Session
			dest := "."
			if len(args) == 1 {
				dest = args[0]
			}
			start := time.Now()
			if compress != "" && compress != "zstd" {
				return fmt.Errorf("--compress %q: zstd is the one compression offered", compress)
			}
			enc := snapshot.Encoding{Compress: compress == "zstd", Recipients: recipients}
			sc, path, err := snapshot.Save(cmd.Context(), s, dest, snapshot.SaveOptions{From: from, Progress: g.progress(cmd), Version: Version, CompareMember: memberHash, Encoding: enc, Stores: g.stores})
			if err != nil {
				return err
			}
			return g.print(cmd, &snapshot.SaveResult{Path: path, Took: time.Since(start), Sidecar: sc})
		},
	}
	tf.Register(cmd.Flags(), target.Naming)
	cmd.Flags().StringVar(&from, "from", "", "member (name, ID or endpoint) to stream from; default: the most caught-up healthy member")
	cmd.Flags().BoolVar(&memberHash, "check-member-hash", false, "also compare the file's HashKV with the member's (a full scan on the member)")
	cmd.Flags().StringVar(&compress, "compress", "", "store the snapshot compressed: zstd (NAME.db.zst)")
	cmd.Flags().StringArrayVar(&recipients, "encrypt", nil, "store the snapshot encrypted for this age recipient (age1..., repeatable; NAME.db.age); verify and restore need --age-identity")
	return cmd
}

func newSnapshotVerifyCmd(g *globals) *cobra.Command {
	var drill bool
	var etcdVersion string
	var pf pointFlags
	var tf target.Flags
	cmd := &cobra.Command{
		Use:   "verify FILE|s3://BUCKET/PREFIX/NAME|STORE --to-revision R",
		Short: "Check trailer, sidecar, bbolt consistency, revision, key count and HashKV; --drill restores it into a scratch etcd",
		Example: `  etcdpilot snapshot verify /var/backups/etcd/prod-20261204T0300Z.db
  etcdpilot snapshot verify s3://backups/etcd/prod-20261204T0300Z.db --drill
  etcdpilot snapshot verify /var/backups/etcd --to-revision 81234 --drill --endpoints https://10.0.0.1:2379`,
		Long: `Exit status: 0 when everything matches, 1 on any mismatch, 2 when the file
cannot be read or is not a snapshot.

With --to-revision or --to-time, the point is rebuilt from the store's base and
segments (see snapshot follow) and verified; when the source cluster is named
(--endpoints, --sandbox, --kubeadm) and still holds the revision, the rebuild,
compacted where the source is, must have the source's HashKV at it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pf.set() {
				return verifyPoint(cmd, g, args[0], pf, tf, drill, etcdVersion)
			}
			if tf.Sandbox != "" || tf.Kubeadm {
				return fmt.Errorf("--sandbox and --kubeadm name the cluster a point is proven against: give --to-revision or --to-time with them")
			}
			r, err := snapshot.Verify(cmd.Context(), args[0], snapshot.VerifyOptions{Drill: drill, EtcdVersion: etcdVersion, Binaries: g.binaries(g.progress(cmd)), Log: g.log, Stores: g.stores})
			if err != nil {
				return err
			}
			if err := g.print(cmd, r); err != nil {
				return err
			}
			if !r.OK() {
				return quietNo
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&drill, "drill", false, "restore into a scratch single-member etcd of the snapshot's version and compare")
	cmd.Flags().StringVar(&etcdVersion, "etcd-version", "", "etcd version for the drill (default: the sidecar's)")
	pf.register(cmd.Flags())
	tf.Register(cmd.Flags(), target.Naming)
	return cmd
}

func newSnapshotRestoreCmd(g *globals) *cobra.Command {
	var initialCluster, peerURLs, dataDir, dataDirTemplate, token, etcdVersion string
	var names []string
	var force, kubernetes bool
	var opts snapshot.RestoreOptions
	var pf pointFlags
	var t target.Flags // --sandbox; --runtime static-pod, --manifest, --pod-logs, --ssh, --kubeadm
	cmd := &cobra.Command{
		Use:   "restore FILE|s3://BUCKET/PREFIX/NAME|STORE --to-revision R|--to-time T",
		Short: "Restore a sandbox, or the data directories of all members, from a snapshot",
		Long: `With --sandbox NAME: stop that sandbox's members, move their data directories
aside, restore them from the snapshot with a new cluster token, start them and
compare the running cluster with the snapshot.

With --runtime static-pod (or --kubeadm on a control-plane node): every
member of the live cluster at once, as a whole-cluster restore of kubeadm's
stacked etcd goes: every etcd manifest moved out (every member stops), every
data directory restored in parallel, the manifests moved back, then the
running cluster compared with the snapshot. With --ssh root@{host} each
member's node is reached over SSH: its data directory is restored here,
sent to the node (a gzip'd tar stream through ssh; the node needs sh, tar
and gzip) beside the old one, and the old directories are moved aside only
once every node holds its copy.

For real hosts, like etcdutl: --initial-cluster names every member; restore
one member with --name, --initial-advertise-peer-urls and --data-dir, or all
members at once with --data-dir-template (for example /var/lib/etcd-{name}).
The snapshot is checked before anything is written; a non-empty data
directory is refused unless --force, which moves it aside and never deletes it.

Under a running Kubernetes, a restore must not hand out revisions the API
server and its watchers have already seen: --kubernetes raises every
revision by 1,000,000,000 and marks the older ones compacted (etcdutl's
--bump-revision N --mark-compacted, which can also be given directly), so
watches end with "compacted" and clients re-list.

With --to-revision R or --to-time T, the argument is a store that snapshot
follow writes: the snapshot restored is rebuilt from its base and segments at
that revision (or the newest one recorded at or before that time), and, where
the cluster restored still holds the revision, proven by its HashKV first.
Leases are not in etcd's watch stream: those granted after the base come back
with the TTL the recorder read when it first saw them (10 s when they were
already gone), and, as after any restore, every lease starts its TTL afresh.`,
		Example: `  etcdpilot snapshot restore backup.db --sandbox default
  etcdpilot snapshot restore backup.db --sandbox default --kubernetes
  etcdpilot snapshot restore /var/backups/etcd --to-time 2026-12-04T14:59:00Z --sandbox default
  etcdpilot snapshot restore backup.db --kubeadm --manifest '/etc/kubernetes/manifests/etcd-{name}.yaml' --kubernetes
  etcdpilot snapshot restore backup.db --kubeadm --ssh 'root@{host}' --kubernetes
  etcdpilot snapshot restore backup.db --initial-cluster a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,c=https://10.0.0.3:2380 \
      --name a --initial-advertise-peer-urls https://10.0.0.1:2380 --data-dir /var/lib/etcd --initial-cluster-token new-token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kubernetes && opts.RevisionBump == 0 && !opts.MarkCompacted {
				opts.RevisionBump, opts.MarkCompacted = snapshot.KubernetesBump, true
			}
			if err := opts.CheckBump(); err != nil {
				return err
			}
			if t.SSH != "" && (t.Sandbox != "" || t.Runtime == "" && !t.Kubeadm) {
				return fmt.Errorf("--ssh reaches the nodes of a static-pod restore: give --runtime static-pod or --kubeadm with it")
			}
			// The targets are checked before the snapshot is fetched (an
			// S3 one may be large).
			var targets []snapshot.Target
			if t.Sandbox == "" && t.Runtime == "" && !t.Kubeadm {
				var err error
				if targets, err = restoreTargets(initialCluster, names, peerURLs, dataDir, dataDirTemplate); err != nil {
					return err
				}
			}
			var pt *pitr.Point
			var file string
			var done func()
			var err error
			if pf.set() {
				source, closeSource, err := pointSource(cmd, g, t)
				if err != nil {
					return err
				}
				pt, done, err = pf.rebuild(cmd, g, args[0], source)
				closeSource()
				if err != nil {
					return err
				}
				file, opts.Sidecar = pt.File, pt.Sidecar
			} else {
				if file, done, err = g.stores.Local(cmd.Context(), args[0]); err != nil {
					return err
				}
				if sc, err := g.stores.SidecarAt(cmd.Context(), args[0]); err == nil {
					opts.Sidecar = sc
				}
			}
			defer done()
			show := func(r *snapshot.RestoreResult) error {
				if pt != nil {
					return g.print(cmd, &pitr.Restored{Point: pt, Restore: r})
				}
				return g.print(cmd, r)
			}
			if t.Sandbox != "" {
				s, err := g.openSandbox(t.Sandbox, g.progress(cmd))
				if err != nil {
					return err
				}
				cmp, err := snapshot.RestoreSandbox(cmd.Context(), s, file, opts)
				if err != nil {
					return err
				}
				return show(&snapshot.RestoreResult{File: args[0], Sandbox: t.Sandbox, Compared: cmp})
			}
			if t.Runtime != "" || t.Kubeadm {
				res, err := restoreStaticPods(cmd, g, t, file, opts)
				if err != nil {
					return err
				}
				res.File = args[0]
				return show(res)
			}
			opts.Token, opts.InitialCluster, opts.Force, opts.EtcdVersion = token, initialCluster, force, etcdVersion
			tok, err := snapshot.RestoreDataDirs(file, targets, opts)
			if err != nil {
				return err
			}
			return show(&snapshot.RestoreResult{File: args[0], Targets: targets, InitialCluster: initialCluster, Token: tok})
		},
	}
	t.Register(cmd.Flags(), target.Naming|target.Runtimes)
	cmd.Flags().StringVar(&initialCluster, "initial-cluster", "", "every member: name=peer-url,...")
	cmd.Flags().StringSliceVar(&names, "name", nil, "member(s) to restore (default: all in --initial-cluster)")
	cmd.Flags().StringVar(&peerURLs, "initial-advertise-peer-urls", "", "peer URLs of the one member restored with --name (must match --initial-cluster)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the one member restored")
	cmd.Flags().StringVar(&dataDirTemplate, "data-dir-template", "", "data directory per member, {name} replaced by the member name")
	cmd.Flags().StringVar(&token, "initial-cluster-token", "", "new cluster token (default: a random one)")
	cmd.Flags().StringVar(&etcdVersion, "etcd-version", "", "etcd version that will run on the data; a snapshot of a newer minor is refused")
	cmd.Flags().BoolVar(&force, "force", false, "move non-empty data directories aside (never deleted)")
	cmd.Flags().Uint64Var(&opts.RevisionBump, "bump-revision", 0, "raise every revision by N (needs --mark-compacted), past any revision clients have seen")
	cmd.Flags().BoolVar(&opts.MarkCompacted, "mark-compacted", false, "mark the revisions before the bump compacted, so watchers re-list (needs --bump-revision)")
	cmd.Flags().BoolVar(&opts.OtherCluster, "other-cluster", false, "restore a snapshot of another cluster into the running one (its keys replace the cluster's)")
	cmd.Flags().BoolVar(&kubernetes, "kubernetes", false, "restore under a running Kubernetes: --bump-revision 1000000000 --mark-compacted unless given")
	pf.register(cmd.Flags())
	return cmd
}

// restoreStaticPods restores every member of the live cluster through
// the static-pod runtime: the member list gives names and peer URLs, the
// manifests give the data directories.
func restoreStaticPods(cmd *cobra.Command, g *globals, f target.Flags, file string, opts snapshot.RestoreOptions) (*snapshot.RestoreResult, error) {
	if f.Runtime != "" && f.Runtime != target.RuntimeStaticPod {
		return nil, fmt.Errorf("snapshot restore --runtime %q: static-pod is the runtime a whole-cluster restore goes through (sandboxes: --sandbox NAME; other hosts: --initial-cluster with --data-dir-template)", f.Runtime)
	}
	ctx := cmd.Context()
	// The member list names the members to restore; the runtime is built
	// from it below, so the target only connects.
	only := f
	only.Runtime = ""
	t, err := g.open(cmd, only, target.Connect)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	s := t.Session
	ml, err := status.MemberList(ctx, s.Pool())
	if err != nil {
		return nil, fmt.Errorf("the member list names the members to restore: %w (with the whole cluster down, restore each node's data directory with --initial-cluster and --data-dir)", err)
	}
	rt, err := target.HostRuntime(f, target.RuntimeStaticPod, ml, g.log)
	if err != nil {
		return nil, err
	}
	var targets []snapshot.Target
	for _, m := range ml.Members {
		if m.IsLearner {
			return nil, fmt.Errorf("member %s is a learner: promote or remove it first (a restore rebuilds the voting members)", m.Name)
		}
		d, err := rt.(runtime.DataDirs).DataDir(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, snapshot.Target{Name: m.Name, PeerURLs: m.PeerURLs, DataDir: d})
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
	opts.Progress = g.log
	return snapshot.RestoreCluster(ctx, rt, s.Config(), targets, file, opts)
}

// restoreTargets works out which data directories to restore.
func restoreTargets(initialCluster string, names []string, peerURLs, dataDir, template string) ([]snapshot.Target, error) {
	if initialCluster == "" {
		return nil, fmt.Errorf("give --sandbox NAME, or --initial-cluster name=peer-url,... for real hosts")
	}
	peers := map[string][]string{}
	var order []string
	for _, part := range strings.Split(initialCluster, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || !strings.Contains(u, "://") {
			return nil, fmt.Errorf("--initial-cluster entry %q: want name=http(s)://host:port", part)
		}
		if _, seen := peers[name]; !seen {
			order = append(order, name)
		}
		peers[name] = append(peers[name], u)
	}
	if len(names) == 0 {
		names = order
	}
	if dataDir != "" && len(names) != 1 {
		return nil, fmt.Errorf("--data-dir restores one member: give --name, or use --data-dir-template for several")
	}
	if dataDir == "" && template == "" {
		return nil, fmt.Errorf("give --data-dir (one member) or --data-dir-template (several)")
	}
	if dataDir == "" && len(names) > 1 && !strings.Contains(template, "{name}") {
		return nil, fmt.Errorf("--data-dir-template %q has no {name}: %d members would share one data directory; write it as, say, /var/lib/etcd-{name}", template, len(names))
	}
	if err := runtime.CheckPlaceholders("--data-dir-template", template, "{name}"); err != nil {
		return nil, err
	}
	var out []snapshot.Target
	for _, n := range names {
		urls, ok := peers[n]
		if !ok {
			return nil, fmt.Errorf("member %q is not in --initial-cluster", n)
		}
		if peerURLs != "" && len(names) == 1 && strings.Join(urls, ",") != peerURLs {
			return nil, fmt.Errorf("--initial-advertise-peer-urls %s does not match --initial-cluster's %s for %s", peerURLs, strings.Join(urls, ","), n)
		}
		dir := dataDir
		if dir == "" {
			if err := runtime.CheckName(n); err != nil {
				return nil, err
			}
			dir = strings.ReplaceAll(template, "{name}", n)
		}
		out = append(out, snapshot.Target{Name: n, PeerURLs: urls, DataDir: dir})
	}
	return out, nil
}

func newSnapshotLsCmd(g *globals) *cobra.Command {
	var points bool
	var clusterID string
	cmd := &cobra.Command{
		Use:   "ls DIR|s3://BUCKET/PREFIX/",
		Short: "List snapshots with their sidecars and when they were last verified, and saves that never finished; --points: the revisions restorable",
		Example: `  etcdpilot snapshot ls /var/backups/etcd
  etcdpilot snapshot ls /var/backups/etcd --points
  etcdpilot snapshot ls s3://backups/etcd/ --s3-endpoint https://minio.example:9000 --s3-path-style`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.stores.Open(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			if points {
				pts, err := pitr.List(cmd.Context(), store, clusterID, g.stores.AgeIdentity)
				if pts == nil {
					return err
				}
				if err != nil { // the ranges stand; a time could not be read
					g.log.Warn("the newest time of a chain could not be read", "err", err)
				}
				return g.print(cmd, pts)
			}
			list, err := store.List(cmd.Context())
			if err != nil {
				return err
			}
			return g.print(cmd, snapshot.Listing(list))
		},
	}
	cmd.Flags().BoolVar(&points, "points", false, "list the restorable ranges of revisions and times (snapshot follow's chains) and every gap")
	cmd.Flags().StringVar(&clusterID, "cluster-id", "", "with --points: only this cluster's")
	return cmd
}

func newSnapshotPruneCmd(g *globals) *cobra.Command {
	var p snapshot.Policy
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune DIR|s3://BUCKET/PREFIX/",
		Short: "Delete snapshots the retention policy does not keep (only files with an etcdpilot sidecar)",
		Example: `  etcdpilot snapshot prune /var/backups/etcd --keep-last 5 --keep-daily 7 --dry-run
  etcdpilot snapshot prune s3://backups/etcd/ --keep-hourly 24 --keep-daily 30`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.stores.Open(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			ds, err := snapshot.Prune(cmd.Context(), store, p, dryRun)
			if err != nil {
				return err
			}
			return g.print(cmd, &snapshot.Pruning{DryRun: dryRun, Decisions: ds})
		},
	}
	cmd.Flags().IntVar(&p.KeepLast, "keep-last", 0, "keep the newest N snapshots")
	cmd.Flags().IntVar(&p.KeepHourly, "keep-hourly", 0, "keep the newest snapshot of each of the last H hours that have one")
	cmd.Flags().IntVar(&p.KeepDaily, "keep-daily", 0, "keep the newest snapshot of each of the last D days that have one")
	positive(cmd, "keep-last", "keep-hourly", "keep-daily")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted")
	return cmd
}
