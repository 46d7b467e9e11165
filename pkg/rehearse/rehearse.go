// Package rehearse runs an upgrade on a shadow of a cluster before it runs
// on the cluster: a copy of the same size and versions on this machine,
// made from copies of the members' data directories where the runtime can
// reach them (the WAL hazards live there), otherwise from a snapshot. The
// same upgrade runs there under the availability probe, its report is
// returned, and the shadow is removed. The source is only read.
//
// A shadow made from copies keeps the members' IDs, names and URLs, so its
// members bind the source's ports: it runs inside a network namespace of
// its own, where those ports are free and the source cannot be reached.
package rehearse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// Options describe a rehearsal.
type Options struct {
	// Target is the upgrade's target, as upgrade apply takes it.
	Target string
	Source *cluster.Session
	// Runtime is the source's; a sandbox's data directories are copied.
	Runtime runtime.Runtime
	// Snapshot seeds the shadow from this file instead of copies.
	Snapshot string
	// Dir is where shadows are made (one subdirectory per rehearsal).
	Dir      string
	Binaries *binaries.Manager
	// NoWALFix and GateTimeout are passed to the upgrade.
	NoWALFix    bool
	GateTimeout time.Duration
	// Self is the etcdpilot binary that runs the upgrade in the shadow;
	// Args are its global flags (cache and catalog).
	Self string
	Args []string
	// User and Password are the source's credentials: the shadow keeps
	// the cluster's users and roles, so the inside half needs them (they
	// reach it through its environment, never its command line).
	User, Password string
	Log            *slog.Logger
	// Stderr receives the shadow's progress.
	Stderr io.Writer
}

// Result is what a rehearsal found.
type Result struct {
	Target    string            `json:"target"`
	ClusterID string            `json:"clusterID"`
	Seed      string            `json:"seed"`
	Versions  map[string]string `json:"versions"`
	Passed    bool              `json:"passed"`
	Error     string            `json:"error,omitempty"`
	Report    *upgrade.Report   `json:"report,omitempty"`
	Took      time.Duration     `json:"took"`
}

// ShadowName is the shadow sandbox's name under a rehearsal's directory.
const ShadowName = "shadow"

// Run makes the shadow, runs the upgrade in it and removes it.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	log := logging.OrDiscard(o.Log)
	cl, err := o.Source.Status(ctx)
	if err != nil {
		return nil, err
	}
	if cl.Health != status.Healthy {
		return nil, fmt.Errorf("the cluster is %s: rehearse on a healthy cluster (%s)", cl.Health, cl.Why())
	}
	if cl.Auth == status.AuthOn && o.User == "" {
		return nil, fmt.Errorf("the cluster has etcd's auth on, and the shadow keeps its users and roles: give a user with the root role (--user, --password, or ETCDCTL_USER/ETCDCTL_PASSWORD); nothing was started")
	}
	res := &Result{Target: o.Target, ClusterID: cl.ClusterID, Versions: map[string]string{}}
	for _, m := range cl.Members {
		res.Versions[m.Name] = m.ServerVersion
	}
	src, copies := o.Runtime.(*sandbox.Sandbox)
	copies = copies && o.Snapshot == ""
	need, err := spaceNeeded(cl, src, copies, o.Snapshot)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if free, err := fsutil.FreeBytes(o.Dir); err == nil && free < need {
		return nil, fmt.Errorf("a rehearsal needs about %d MiB under %s (copies of %d members and their growth), only %d MiB are free: free some space or rehearse elsewhere (--shadow-dir); nothing was started", need>>20, o.Dir, len(cl.Members), free>>20)
	}
	sweep(ctx, o.Dir, log)
	root, err := os.MkdirTemp(o.Dir, "rehearsal-")
	if err != nil {
		return nil, err
	}
	// The lock says the rehearsal is alive; a later one removes a
	// directory whose lock is free (its etcdpilot was killed).
	lock, err := fsutil.TryLock(filepath.Join(root, ".lock"))
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	defer lock.Unlock()
	var shadow *sandbox.Sandbox
	defer func() {
		if shadow != nil {
			shadow.Destroy(context.WithoutCancel(ctx))
		}
		os.RemoveAll(root)
	}()
	if copies {
		res.Seed = "copies of the members' data directories"
		shadow, err = copyCluster(ctx, o, src, cl, root)
	} else {
		res.Seed = "a snapshot"
		shadow, err = fromSnapshot(ctx, o, cl, root)
	}
	if err != nil {
		return nil, fmt.Errorf("make the shadow: %w", err)
	}
	log.Info("shadow of cluster {cluster} ready in {dir} ({seed}); running the upgrade to {target} there", "cluster", cl.ClusterID, "dir", shadow.Dir, "seed", res.Seed, "target", o.Target)
	res.Report, err = inShadow(ctx, o, root, copies)
	res.Took = time.Since(start)
	if res.Report == nil {
		return nil, err
	}
	res.Report.Journal = "" // removed with the shadow
	res.Passed = err == nil && res.Report.State == "done"
	if !res.Passed {
		res.Error = res.Report.Error
		if res.Error == "" && err != nil {
			res.Error = err.Error()
		}
	}
	return res, nil
}

// sweep removes what rehearsals killed on the way left under dir: the
// shadow's members (a kill -9 of etcdpilot ends them through their
// parent-death signal; a shadow from an older etcdpilot is stopped here)
// and the directory.
func sweep(ctx context.Context, dir string, log *slog.Logger) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		root := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "rehearsal-") || err != nil || time.Since(info.ModTime()) < 10*time.Second {
			continue
		}
		lock, err := fsutil.TryLock(filepath.Join(root, ".lock"))
		if err != nil {
			continue // alive
		}
		if sb, err := sandbox.Open(root, ShadowName, nil); err == nil {
			sb.Destroy(ctx)
		}
		lock.Unlock()
		if err := os.RemoveAll(root); err == nil {
			log.Info("removed {dir}, left by a rehearsal that was killed", "dir", root)
		}
	}
}

// spaceNeeded estimates the shadow's size: each member's data (or the
// snapshot once per member) and room for the upgrade to write.
func spaceNeeded(cl *status.Cluster, src *sandbox.Sandbox, copies bool, snap string) (int64, error) {
	var n int64
	if copies {
		st, err := src.State()
		if err != nil {
			return 0, err
		}
		for _, m := range st.Members {
			n += fsutil.DirSize(m.DataDir)
		}
	} else {
		for _, m := range cl.Members {
			n += m.DBSize
		}
		if snap != "" {
			fi, err := os.Stat(snap)
			if err != nil {
				return 0, fmt.Errorf("--snapshot: %w", err)
			}
			n = fi.Size() * int64(len(cl.Members)+1)
		}
	}
	return n + n/2 + int64(len(cl.Members))*64<<20, nil
}

// inShadow runs etcdpilot's inside half (in a network namespace of its
// own when the shadow holds copies) and reads its report.
func inShadow(ctx context.Context, o Options, root string, netns bool) (*upgrade.Report, error) {
	args := append(append([]string{}, o.Args...), "upgrade", "rehearse", "--inside", root, "--to", o.Target,
		"--gate-timeout", o.GateTimeout.String(), fmt.Sprintf("--no-wal-fix=%v", o.NoWALFix), fmt.Sprintf("--netns=%v", netns))
	var out strings.Builder
	run := func(attrs *syscall.SysProcAttr) error {
		cmd := exec.CommandContext(ctx, o.Self, args...)
		cmd.Stdout, cmd.Stderr = &out, o.Stderr
		cmd.Env = os.Environ()
		if o.User != "" {
			cmd.Env = append(cmd.Env, "ETCDCTL_USER="+o.User, "ETCDCTL_PASSWORD="+o.Password)
		}
		if attrs == nil {
			attrs = &syscall.SysProcAttr{}
		}
		// The inside half, and the shadow members it restarts, die
		// with this process (a kill -9 leaves nothing running).
		attrs.Pdeathsig = syscall.SIGKILL
		cmd.SysProcAttr = attrs
		return cmd.Run()
	}
	var err error
	if netns {
		err = inNamespace(run)
	} else {
		err = run(nil)
	}
	var r upgrade.Report
	if jerr := json.Unmarshal([]byte(out.String()), &r); jerr != nil {
		if err == nil {
			err = jerr
		}
		return nil, fmt.Errorf("the upgrade in the shadow: %w", err)
	}
	return &r, err
}

// inNamespace runs fn in a new network namespace: as root, or in a user
// namespace of its own where unprivileged ones are allowed.
func inNamespace(fn func(*syscall.SysProcAttr) error) error {
	err := fn(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	err = fn(&syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWNET | syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	})
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("a shadow made of copies keeps the members' ports and needs a network namespace of its own, which this machine refused (%v): run as root, or rehearse from a snapshot (--snapshot FILE)", err)
	}
	return err
}
