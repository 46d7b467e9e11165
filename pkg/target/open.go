package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// JournalFile is a sandbox's journal of changes, in its directory.
const JournalFile = "upgrade-journal.json"

// Env is what the command line gives besides the target flags.
type Env struct {
	// Conn is the etcdctl-style connection (flags and ETCDCTL_*).
	Conn conn.Config
	// Given reports whether a flag was given: --kubeadm fills only the
	// connection settings left out.
	Given func(flag string) bool
	// ConnGiven names the connection flags given, which --sandbox refuses.
	ConnGiven []string
	// Root is the state directory (sandboxes, journals).
	Root     string
	Binaries *binaries.Manager
	// Out receives progress (sandbox binary installs).
	Out io.Writer
	Log *slog.Logger
}

// Need says what a command does with the cluster's members.
type Need int

const (
	// Connect: the command talks to the cluster; a runtime is used where
	// one is named or comes with the target (a sandbox, this kubeadm node).
	Connect Need = iota
	// Restart: the command stops and starts members, on every host.
	Restart
)

// Target is a cluster named on the command line.
type Target struct {
	Flags   Flags
	Session *cluster.Session
	// Runtime runs the members (nil: none named, and Need was Connect).
	Runtime runtime.Runtime
	// Sandbox is the sandbox of --sandbox.
	Sandbox *sandbox.Sandbox
	// Node is what --kubeadm read on this node.
	Node *Node
	env  Env
}

// Open names the cluster: this node's manifest with --kubeadm, the
// sandbox's endpoints and certificates, or the connection flags; opens
// one session (the caller closes the target) and the runtime.
func Open(ctx context.Context, f Flags, env Env, need Need) (*Target, error) {
	env.Log = logging.OrDiscard(env.Log)
	if env.Given == nil {
		env.Given = func(string) bool { return false }
	}
	t := &Target{Flags: f, env: env}
	if err := f.check(); err != nil {
		return nil, err
	}
	c := env.Conn
	if f.Kubeadm {
		node, kc, err := readKubeadm(ctx, f.Manifest, env)
		if err != nil {
			return nil, err
		}
		t.Node, c = node, kc
	}
	if f.Sandbox != "" {
		if len(env.ConnGiven) > 0 {
			return nil, fmt.Errorf("--sandbox %s brings its own endpoints and certificates: drop %s, or drop --sandbox", f.Sandbox, strings.Join(env.ConnGiven, ", "))
		}
		sb, err := t.openSandbox()
		if err != nil {
			return nil, err
		}
		st, err := sb.State()
		if err != nil {
			return nil, err
		}
		sc := st.Conn()
		sc.DialTimeout, sc.CommandTimeout = c.DialTimeout, c.CommandTimeout
		sc.User, sc.Password = c.User, c.Password
		c = sc
	}
	s, err := cluster.Open(c, env.Log)
	if err != nil {
		return nil, err
	}
	t.Session = s
	if t.Runtime, err = t.runtime(ctx, need); err != nil {
		s.Close()
		return nil, err
	}
	return t, nil
}

// check refuses contradictory flags before anything is opened.
func (f Flags) check() error {
	switch {
	case f.Kubeadm && f.Sandbox != "":
		return errors.New("--kubeadm reads a control-plane node's manifest and --sandbox names a local sandbox: drop one")
	case f.Runtime == RuntimeSandbox && f.Sandbox == "":
		return errors.New("--runtime sandbox needs --sandbox NAME")
	case f.Runtime != "" && f.Runtime != RuntimeSandbox && f.Runtime != RuntimeCommand && f.Runtime != RuntimeStaticPod:
		return fmt.Errorf("unknown --runtime %q: use %s", f.Runtime, strings.Join(RuntimeNames, ", "))
	}
	return nil
}

// Close ends the session.
func (t *Target) Close() {
	if t != nil && t.Session != nil {
		t.Session.Close()
	}
}

func (t *Target) openSandbox() (*sandbox.Sandbox, error) {
	if t.Sandbox != nil {
		return t.Sandbox, nil
	}
	sb, err := sandbox.Open(t.env.Root, t.Flags.Sandbox, t.env.Binaries)
	if err != nil {
		return nil, err
	}
	sb.Log = t.env.Log
	t.Sandbox = sb
	return sb, nil
}

// runtime picks the runtime the flags name.
func (t *Target) runtime(ctx context.Context, need Need) (runtime.Runtime, error) {
	f := t.Flags
	switch {
	case f.Sandbox != "" && (f.Runtime == "" || f.Runtime == RuntimeSandbox):
		return t.Sandbox, nil
	case f.Runtime == RuntimeCommand || f.Runtime == RuntimeStaticPod:
		return t.hostRuntime(ctx, f.Runtime)
	case f.Kubeadm && need == Restart:
		return t.hostRuntime(ctx, RuntimeStaticPod)
	case f.Kubeadm:
		return t.Node.Runtime, nil
	case need == Restart:
		return nil, errors.New("say how to stop and start the members: --sandbox NAME for a local sandbox, --kubeadm (or --runtime static-pod) for kubeadm's static pods, or --runtime command --stop-cmd ... --start-cmd ... --install-cmd ... for real hosts")
	}
	return nil, nil
}

// hostRuntime is the runtime of the live cluster's members on their hosts.
func (t *Target) hostRuntime(ctx context.Context, kind string) (runtime.Runtime, error) {
	ml, err := status.MemberList(ctx, t.Session.Pool())
	if err != nil {
		return nil, err
	}
	return HostRuntime(t.Flags, kind, ml, t.env.Log)
}

// Journal is the journal of changes: --journal, the sandbox's, or
// <state-dir>/upgrades/<cluster-id>.json.
func (t *Target) Journal(ctx context.Context) (string, error) {
	switch {
	case t.Flags.Journal != "":
		return t.Flags.Journal, nil
	case t.Sandbox != nil:
		return filepath.Join(t.Sandbox.Dir, JournalFile), nil
	}
	ml, err := status.MemberList(ctx, t.Session.Pool())
	if err != nil {
		return "", err
	}
	return ClusterJournal(t.env.Root, fmt.Sprintf("%x", ml.Header.ClusterId)), nil
}

// ClusterJournal is a real cluster's journal under the state directory.
func ClusterJournal(root, clusterID string) string {
	return filepath.Join(root, "upgrades", clusterID+".json")
}

// JournalOnly is the journal the flags name, for commands that read or
// edit a journal: without --journal or --sandbox, the cluster is asked
// for its ID.
func JournalOnly(ctx context.Context, f Flags, env Env) (string, error) {
	if f.Journal != "" {
		return f.Journal, nil
	}
	if f.Sandbox == "" && !f.Kubeadm && len(env.ConnGiven) == 0 {
		return "", errors.New("say which journal: --journal FILE, --sandbox NAME, or the cluster's --endpoints (or --kubeadm)")
	}
	t, err := Open(ctx, f, env, Connect)
	if err != nil {
		return "", err
	}
	defer t.Close()
	return t.Journal(ctx)
}

// Configs are the members' configurations where the runtime knows them:
// a sandbox's command lines, the static pods' manifests, this kubeadm
// node's manifest; nil otherwise.
func (t *Target) Configs(ctx context.Context) ([]*memberconfig.Config, error) {
	if t.Node != nil && (t.Runtime == nil || t.Runtime == runtime.Runtime(t.Node.Runtime)) {
		return []*memberconfig.Config{t.Node.Config}, nil
	}
	rt, ok := t.Runtime.(interface {
		runtime.Inspector
		runtime.Lister
	})
	if !ok {
		return nil, nil
	}
	label := "static pod of member "
	if t.Sandbox != nil && t.Runtime == runtime.Runtime(t.Sandbox) {
		label = "sandbox " + t.Sandbox.Name + " member "
	}
	return runtimeConfigs(ctx, rt, label)
}

// runtimeConfigs reads each member's flags from the runtime that runs it
// as its config.
func runtimeConfigs(ctx context.Context, rt interface {
	runtime.Inspector
	runtime.Lister
}, label string) ([]*memberconfig.Config, error) {
	names, err := rt.Members(ctx)
	if err != nil {
		return nil, err
	}
	var out []*memberconfig.Config
	for _, n := range names {
		flags, err := rt.Flags(ctx, n)
		if err != nil {
			return nil, err
		}
		c, err := memberconfig.Parse(label+n, []byte(strings.Join(flags, "\n")))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
