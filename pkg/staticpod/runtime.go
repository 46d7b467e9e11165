package staticpod

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// DefaultManifest is kubeadm's etcd manifest.
const DefaultManifest = "/etc/kubernetes/manifests/etcd.yaml"

// Runtime stops and starts members by moving their static pod manifests
// out of the kubelet's manifest directory and writing new ones, the way
// kubeadm upgrades its control plane:
//
//   - Stop keeps a copy of the manifest outside the manifest directory
//     (<kubernetes dir>/tmp/etcdpilot-<member>/v<version>.yaml), moves the
//     manifest out (stopped.yaml beside it) and waits until the member no
//     longer answers and its etcd process is gone;
//   - Start writes the manifest back, on a new version when asked (the
//     image tag changed, kubeadm's -0 suffix kept, flags renamed as the
//     catalog says), with a changing annotation, through a dot-temp file
//     and a rename; starting on a version whose copy was kept (a rollback)
//     puts that copy back.
type Runtime struct {
	// Manifests maps each member to its manifest's path on its host.
	Manifests map[string]string
	// Exec is the executor for a member's host; nil edits files here.
	Exec func(member string) hostexec.Executor
	// Image replaces the image repository on a version change
	// (registry.k8s.io/etcd is kept otherwise).
	Image string
	// DownTimeout bounds the wait for a member to go down once its
	// manifest is out (2 minutes when zero): a member still up then means
	// the kubelet does not watch that directory.
	DownTimeout time.Duration
	// UpTimeout bounds the wait for a member to accept connections once
	// its manifest is back (3 minutes when zero).
	UpTimeout time.Duration
	// PodLogs is the kubelet's pod log directory (/var/log/pods).
	PodLogs string
	Log     *slog.Logger

	mu      sync.Mutex
	renames map[string]map[string]string
}

var (
	_ runtime.Runtime         = (*Runtime)(nil)
	_ runtime.Inspector       = (*Runtime)(nil)
	_ runtime.FlagRenamer     = (*Runtime)(nil)
	_ runtime.DataDirs        = (*Runtime)(nil)
	_ runtime.Lister          = (*Runtime)(nil)
	_ runtime.ProcessReporter = (*Runtime)(nil)
	_ runtime.LogReader       = (*Runtime)(nil)
	_ runtime.FileReader      = (*Runtime)(nil)
	_ runtime.Hosted          = (*Runtime)(nil)
)

// Host is the executor for the member's host.
func (r *Runtime) Host(member string) hostexec.Executor { return r.files(member).x }

func (r *Runtime) files(member string) files {
	if r.Exec != nil {
		return files{x: r.Exec(member)}
	}
	return files{x: hostexec.Local{Timeout: time.Minute}}
}

func (r *Runtime) manifest(member string) (string, error) {
	p, ok := r.Manifests[member]
	if !ok {
		return "", fmt.Errorf("no static pod manifest known for member %s (members: %s)", member, strings.Join(r.names(), ", "))
	}
	return p, nil
}

func (r *Runtime) names() []string {
	var out []string
	for n := range r.Manifests {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// BackupDir is where a member's manifests wait while it is stopped and
// where the copies for rollbacks are kept: outside the manifest
// directory (the kubelet would run every file in it), beside it as
// kubeadm's own backups are (/etc/kubernetes/tmp).
func BackupDir(manifest, member string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(manifest)), "tmp", "etcdpilot-"+member)
}

// state is what a member's host holds: the manifest in place, the one
// moved out by Stop, and where they live.
type state struct {
	path, dir       string
	inPlace, parked *Manifest
}

func (s state) stoppedPath() string { return filepath.Join(s.dir, "stopped.yaml") }
func (s state) copyPath(v string) string {
	return filepath.Join(s.dir, "v"+version.Plain(v)+".yaml")
}

// current is the member's manifest, in place or parked.
func (s state) current() *Manifest {
	if s.inPlace != nil {
		return s.inPlace
	}
	return s.parked
}

func (r *Runtime) state(ctx context.Context, member string) (state, error) {
	p, err := r.manifest(member)
	if err != nil {
		return state{}, err
	}
	s := state{path: p, dir: BackupDir(p, member)}
	f := r.files(member)
	if s.inPlace, err = r.load(ctx, f, p); err != nil {
		return s, err
	}
	if s.parked, err = r.load(ctx, f, s.stoppedPath()); err != nil {
		return s, err
	}
	if s.current() == nil {
		return s, fmt.Errorf("member %s: no manifest at %s on %s (nor a stopped one in %s): give its path with --manifest", member, p, f.x, s.dir)
	}
	return s, nil
}

func (r *Runtime) load(ctx context.Context, f files, p string) (*Manifest, error) {
	data, ok, err := f.read(ctx, p)
	if err != nil || !ok {
		return nil, err
	}
	return Parse(p, data)
}

// Stop moves the member's manifest out and waits until it is down. When
// it does not go down, the manifest is put back and the error says why.
func (r *Runtime) Stop(ctx context.Context, member string) error {
	s, err := r.state(ctx, member)
	if err != nil {
		return err
	}
	f := r.files(member)
	log := logging.OrDiscard(r.Log)
	var cgroup string
	if s.inPlace != nil {
		cgroup = r.podCgroup(ctx, member, s.inPlace)
		data, err := s.inPlace.Marshal()
		if err != nil {
			return err
		}
		if err := f.write(ctx, s.copyPath(s.inPlace.Version()), data); err != nil {
			return fmt.Errorf("member %s: keeping a copy of %s: %w", member, s.path, err)
		}
		if err := f.move(ctx, s.path, s.stoppedPath()); err != nil {
			return fmt.Errorf("member %s: moving %s out: %w", member, s.path, err)
		}
		log.Info("moved {member}'s manifest out of {dir} on {host}", "member", member, "dir", filepath.Dir(s.path), "host", f.x)
	}
	m := s.current()
	start := time.Now()
	err = r.waitDown(ctx, member, m, cgroup)
	if err == nil {
		log.Info("{member} is down ({took})", "member", member, "took", since(start))
	}
	if err == nil || s.inPlace == nil {
		return err
	}
	if berr := f.move(ctx, s.stoppedPath(), s.path); berr != nil {
		return fmt.Errorf("%w; putting the manifest back failed too: %v (it is in %s)", err, berr, s.stoppedPath())
	}
	return fmt.Errorf("%w; is %s the kubelet's staticPodPath? The manifest is back in place", err, filepath.Dir(s.path))
}

// Start writes the member's manifest back (on opts.Version when set) and
// waits until the member accepts connections.
func (r *Runtime) Start(ctx context.Context, member string, opts runtime.StartOptions) error {
	s, err := r.state(ctx, member)
	if err != nil {
		return err
	}
	f := r.files(member)
	base := s.current()
	m := base.Clone()
	if opts.Version != "" && version.Compare(base.Version(), opts.Version) != 0 {
		kept, err := r.load(ctx, f, s.copyPath(opts.Version))
		if err != nil {
			return err
		}
		if kept != nil {
			// Back to a version it ran on: the manifest it ran with.
			m = kept
		} else {
			m.SetVersion(opts.Version, r.Image)
			m.RenameFlags(r.pending(member))
		}
	} else if s.inPlace != nil {
		return r.waitUp(ctx, member, s.inPlace) // running already
	} else {
		m.RenameFlags(r.pending(member))
	}
	return r.writeAndWait(ctx, member, s, m)
}

// writeAndWait puts m in place of the member's manifest (stamped, so the
// kubelet sees a new pod), drops the parked one and waits until the
// member answers.
func (r *Runtime) writeAndWait(ctx context.Context, member string, s state, m *Manifest) error {
	f := r.files(member)
	m.File = s.path
	m.Stamp(time.Now().UTC().Format(time.RFC3339Nano))
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := f.write(ctx, s.path, data); err != nil {
		return fmt.Errorf("member %s: writing %s: %w", member, s.path, err)
	}
	if err := f.remove(ctx, s.stoppedPath()); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.renames, member)
	r.mu.Unlock()
	log := logging.OrDiscard(r.Log)
	log.Info("wrote {member}'s manifest ({image}) on {host}", "member", member, "image", m.Image(), "host", f.x)
	start := time.Now()
	if err := r.waitUp(ctx, member, m); err != nil {
		return err
	}
	log.Info("{member} answers ({took})", "member", member, "took", since(start))
	return nil
}

// RenameFlags records renames for the member's next start: its manifest
// is rewritten then, not now (the kubelet would restart the old version
// with the new names at once).
func (r *Runtime) RenameFlags(_ context.Context, member string, renames map[string]string) error {
	if _, err := r.manifest(member); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.renames == nil {
		r.renames = map[string]map[string]string{}
	}
	r.renames[member] = renames
	return nil
}

func (r *Runtime) pending(member string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.renames[member]
}

// Version is the etcd version of the member's manifest image.
func (r *Runtime) Version(ctx context.Context, member string) (string, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return "", err
	}
	return s.current().Version(), nil
}

// Flags are the etcd flags in the member's manifest.
func (r *Runtime) Flags(ctx context.Context, member string) ([]string, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return nil, err
	}
	return s.current().Flags(), nil
}

// DataDir is the member's data directory on its host (through the pod's
// hostPath volume).
func (r *Runtime) DataDir(ctx context.Context, member string) (string, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return "", err
	}
	m := s.current()
	d := m.Flag("data-dir")
	if d == "" {
		return "", fmt.Errorf("%s: the etcd container has no --data-dir", m.File)
	}
	return m.HostPath(d)
}

// ReadFile reads a file the etcd container sees at p (a certificate) on
// the member's host, through the pod's hostPath volumes.
func (r *Runtime) ReadFile(ctx context.Context, member, p string) ([]byte, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return nil, err
	}
	host, err := s.current().HostPath(p)
	if err != nil {
		return nil, err
	}
	data, ok, err := r.files(member).read(ctx, host)
	if err == nil && !ok {
		err = fmt.Errorf("%s: no such file on %s", host, r.files(member).x)
	}
	return data, err
}

// Members names the members whose manifests the runtime knows.
func (r *Runtime) Members(context.Context) ([]string, error) { return r.names(), nil }

// Manifest returns the member's manifest (in place, or parked by Stop).
func (r *Runtime) Manifest(ctx context.Context, member string) (*Manifest, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return nil, err
	}
	return s.current(), nil
}

// Running reports whether the member's etcd process runs on its host:
// a process with the manifest's data directory on its command line.
func (r *Runtime) Running(ctx context.Context, member string) (bool, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return false, err
	}
	return r.processUp(ctx, member, s.current())
}

func (r *Runtime) processUp(ctx context.Context, member string, m *Manifest) (bool, error) {
	d := m.Flag("data-dir")
	if d == "" {
		return false, nil
	}
	out, err := r.files(member).x.Run(ctx, fmt.Sprintf("pgrep -f -- %s || true", hostexec.Quote(processPattern(d))))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out.Stdout) != "", nil
}

// LogTail returns the last lines the member's newest pod logged, from the
// kubelet's pod log directory.
func (r *Runtime) LogTail(ctx context.Context, member string, lines int) (string, error) {
	s, err := r.state(ctx, member)
	if err != nil {
		return "", err
	}
	m := s.current()
	ns := m.Pod.Namespace
	if ns == "" {
		ns = "kube-system"
	}
	logs := r.PodLogs
	if logs == "" {
		logs = "/var/log/pods"
	}
	c := m.container()
	// Only the wildcards stay bare: every name in the path is quoted.
	glob := hostexec.Quote(filepath.Join(logs, ns+"_"+m.Pod.Name)) + "-*/" + hostexec.Quote(c.Name) + "/*.log"
	out, err := r.files(member).x.Run(ctx, fmt.Sprintf("f=$(ls -t %s 2>/dev/null | head -1); [ -n \"$f\" ] && tail -n %d \"$f\" || true", glob, lines))
	if err != nil {
		return "", err
	}
	return out.Stdout, nil
}

// clientAddr is where the member answers: its first advertised (or
// listened) client URL's host and port.
func clientAddr(m *Manifest) (string, error) {
	for _, flag := range []string{"advertise-client-urls", "listen-client-urls"} {
		for _, u := range strings.Split(m.Flag(flag), ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				continue
			}
			host := pu.Hostname()
			if host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			return net.JoinHostPort(host, pu.Port()), nil
		}
	}
	return "", fmt.Errorf("%s: the etcd container has no --advertise-client-urls", m.File)
}

func accepts(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// podCgroup is the directory of the cgroup of the member's running pod
// ("" when it does not run or is not in a pod): the kubelet removes it
// once the pod has terminated and it has let the pod go. A manifest
// written before that waits for the old pod and the kubelet's back-off
// (about 10 s more).
func (r *Runtime) podCgroup(ctx context.Context, member string, m *Manifest) string {
	d := m.Flag("data-dir")
	if d == "" {
		return ""
	}
	script := fmt.Sprintf(`pid=$(pgrep -f -- %s | head -1)
[ -n "$pid" ] || exit 0
while IFS=: read -r id ctrls path; do
	case "$ctrls" in
	memory) echo "/sys/fs/cgroup/memory${path%%/*}"; exit 0;;
	"") [ "$id" = 0 ] && v2="/sys/fs/cgroup${path%%/*}";;
	esac
done < /proc/$pid/cgroup
[ -n "$v2" ] && echo "$v2"`, hostexec.Quote(processPattern(d)))
	out, err := r.files(member).x.Run(ctx, script)
	dir := strings.TrimSpace(out.Stdout)
	if err != nil || !strings.Contains(dir, "kubepods") {
		return ""
	}
	return dir
}

// waitDown waits until the member refuses connections, its process is
// gone and the kubelet has removed its pod's cgroup.
func (r *Runtime) waitDown(ctx context.Context, member string, m *Manifest, cgroup string) error {
	addr, err := clientAddr(m)
	if err != nil {
		return err
	}
	timeout := r.DownTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	err = poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		if accepts(ctx, addr) {
			return false, nil
		}
		up, err := r.processUp(ctx, member, m)
		if err != nil || up || cgroup == "" {
			return !up, err
		}
		out, err := r.files(member).x.Run(ctx, "test -d "+hostexec.Quote(cgroup)+" && echo present || true")
		return strings.TrimSpace(out.Stdout) == "", err
	})
	if err != nil {
		return fmt.Errorf("member %s still answers on %s %s after its manifest was moved out", member, addr, timeout)
	}
	return nil
}

// waitUp waits until the member accepts connections; the engine's gates
// check its version and health.
func (r *Runtime) waitUp(ctx context.Context, member string, m *Manifest) error {
	addr, err := clientAddr(m)
	if err != nil {
		return err
	}
	timeout := r.UpTimeout
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	err = poll.Until(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		return accepts(ctx, addr), nil
	})
	if err != nil {
		tail, _ := r.LogTail(ctx, member, 20)
		return fmt.Errorf("member %s did not answer on %s within %s of its manifest (%s) being written; its pod's last log lines:\n%s", member, addr, timeout, m.Image(), tail)
	}
	return nil
}

// processPattern matches the command line of the etcd process that runs
// on the data directory d.
func processPattern(d string) string {
	return "etcd .*--data-dir[= ]" + regexpQuote(d) + "( |$)"
}

// regexpQuote escapes an extended regular expression's special characters.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// since is the time since t, to a tenth of a second, for messages.
func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
