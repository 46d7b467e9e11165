// Package kube runs the real Kubernetes parts the static-pod tests need:
// Debian's containerd and runc, a standalone kubelet that runs static
// pods, and a kube-apiserver, both built from the Go module proxy by
// scripts/kubernetes.sh. Everything they change on the host (mounts,
// cgroups, kernel settings, processes) is undone when the test ends.
package kube

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Version is the Kubernetes version scripts/kubernetes.sh builds.
const Version = "v1.35.4"

// Tool is the path of a Kubernetes binary built by make kubernetes.
func Tool(t testutil.T, name string) string {
	t.Helper()
	testutil.SkipShort(t)
	p := filepath.Join(binaries.DefaultCacheDir(), "tools", "kubernetes-"+Version, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found at %s: run `make kubernetes`", name, p)
	}
	return p
}

// Node is one kubelet with its containerd, watching Manifests.
type Node struct {
	Dir       string
	Manifests string
	PodLogs   string
	socket    string
	sysctls   map[string]string
	procs     []*exec.Cmd
	// registered: the kubelet serves an API server's pods, which stay
	// until the node stops.
	registered bool
}

// kernel settings the kubelet changes at start.
var sysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// NewNode starts containerd and a standalone kubelet with the etcd images
// of versions imported. One node runs at a time on a machine (they share
// the kubepods cgroups): the others wait.
func NewNode(t testutil.T, versions ...string) *Node {
	t.Helper()
	return newNode(t, nodeOptions{versions: versions})
}

// nodeOptions: the etcd images to import, other image tars to import, and
// the kubeconfig of an API server to register with (a standalone kubelet
// without it).
type nodeOptions struct {
	versions   []string
	images     []string
	kubeconfig string
}

func newNode(t testutil.T, o nodeOptions) *Node {
	t.Helper()
	kubelet := Tool(t, "kubelet")
	n := claimNode(t)
	n.Manifests, n.PodLogs = filepath.Join(n.Dir, "kubernetes", "manifests"), filepath.Join(n.Dir, "pod-logs")
	for _, s := range sysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil {
			n.sysctls[s] = strings.TrimSpace(string(b))
		}
	}
	for _, d := range []string{n.Manifests, n.PodLogs} {
		testutil.Must(t, os.MkdirAll(d, 0o755))
	}
	n.registered = o.kubeconfig != ""
	if n.registered {
		n.cni(t)
	}
	n.startContainerd(t)
	n.importImages(t, o.versions...)
	for _, img := range o.images {
		if out, err := n.Ctr("images", "import", img); err != nil {
			t.Fatalf("import %s: %v\n%s", img, err, out)
		}
	}
	n.startKubelet(t, kubelet, o.kubeconfig)
	return n
}

// cni gives containerd a network configuration, so the node reports its
// network ready: loopback only (CNI's own plugin, built by make
// kubernetes), enough for host-network pods.
func (n *Node) cni(t testutil.T) {
	t.Helper()
	bin := filepath.Join(n.Dir, "cni-bin")
	testutil.Must(t, os.MkdirAll(bin, 0o755))
	b, err := os.ReadFile(Tool(t, "cni-loopback"))
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(filepath.Join(bin, "loopback"), b, 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(n.Dir, "cni", "10-loopback.conflist"),
		[]byte(`{"cniVersion": "1.0.0", "name": "host-only", "plugins": [{"type": "loopback"}]}`), 0o644))
}

// NewContainerd starts containerd alone (no kubelet), for tests that run
// an image with ctr. It shares the nodes' lock and cleanup.
func NewContainerd(t testutil.T) *Node {
	t.Helper()
	n := claimNode(t)
	n.startContainerd(t)
	return n
}

// claimNode waits for the machine's one node at a time (nodes share the
// kubepods cgroups), reaps what a killed run left, and makes the node's
// directory, removed with everything the node started when the test ends.
func claimNode(t testutil.T) *Node {
	t.Helper()
	for _, tool := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run `make test-deps` (Debian's containerd and runc)", tool)
		}
	}
	lock, err := fsutil.LockWait(context.Background(), filepath.Join(os.TempDir(), "etcdpilot-kubelet.lock"), func() {})
	testutil.Must(t, err, "kubelet lock")
	t.Cleanup(func() { lock.Unlock() })
	reapStale()
	dir, err := os.MkdirTemp("", "ep-node-")
	testutil.Must(t, err)
	n := &Node{Dir: dir, socket: filepath.Join(dir, "containerd.sock"), sysctls: map[string]string{}}
	t.Cleanup(func() { n.cleanup(t) })
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "cni"), 0o755))
	return n
}

// Ctr runs ctr against the node's containerd, in the k8s.io namespace.
func (n *Node) Ctr(args ...string) (string, error) {
	out, err := exec.Command("ctr", append([]string{"-a", n.socket, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (n *Node) startContainerd(t testutil.T) {
	t.Helper()
	cfg := filepath.Join(n.Dir, "containerd.toml")
	testutil.Must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = %[5]q
    bin_dir = %[6]q
`, filepath.Join(n.Dir, "containerd-root"), filepath.Join(n.Dir, "containerd-state"), n.socket, PauseImage, filepath.Join(n.Dir, "cni"), filepath.Join(n.Dir, "cni-bin"))), 0o644))
	n.start(t, "containerd", "containerd", "--config", cfg)
	testutil.Eventually(t, 30*time.Second, func() error {
		return exec.Command("ctr", "-a", n.socket, "version").Run()
	})
}

func (n *Node) startKubelet(t testutil.T, bin, kubeconfig string) {
	t.Helper()
	port, healthz := freePort(t), freePort(t)
	cfg := filepath.Join(n.Dir, "kubelet.yaml")
	testutil.Must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: %[1]s
containerRuntimeEndpoint: unix://%[2]s
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
fileCheckFrequency: 1s
syncFrequency: 5s
registerNode: %[6]t
address: 127.0.0.1
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
podLogsDir: %[5]s
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
enforceNodeAllocatable: []
`, n.Manifests, n.socket, port, healthz, n.PodLogs, kubeconfig != "")), 0o644))
	args := []string{"--config", cfg, "--root-dir", filepath.Join(n.Dir, "kubelet"), "--hostname-override", "node1"}
	if kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig, "--node-ip", "127.0.0.1")
	}
	n.start(t, "kubelet", bin, args...)
	testutil.Eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("kubelet healthz: %s", resp.Status)
		}
		return nil
	})
}

func (n *Node) start(t testutil.T, name, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(n.Dir, name+".log"))
	testutil.Must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, cmd.Start(), "start "+name)
	n.procs = append(n.procs, cmd)
}

// cleanup stops the pods (manifests removed, the kubelet lets them go),
// the kubelet, containerd and its shims; unmounts what they mounted under
// the node's directory; removes the kubepods cgroups; and puts the kernel
// settings back.
func (n *Node) cleanup(t testutil.T) {
	if t.Failed() {
		for _, f := range []string{"kubelet.log", "containerd.log"} {
			if b, err := os.ReadFile(filepath.Join(n.Dir, f)); err == nil {
				lines := strings.Split(string(b), "\n")
				if len(lines) > 12 {
					lines = lines[len(lines)-12:]
				}
				t.Logf("--- last lines of %s:\n%s", f, strings.Join(lines, "\n"))
			}
		}
	}
	if n.Manifests != "" {
		entries, _ := os.ReadDir(n.Manifests)
		for _, e := range entries {
			os.Remove(filepath.Join(n.Manifests, e.Name()))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// An API server's pods stay while it runs: nothing to wait for.
	for !n.registered && ctx.Err() == nil && len(n.containerPIDs()) > 0 {
		time.Sleep(500 * time.Millisecond)
	}
	for i := len(n.procs) - 1; i >= 0; i-- {
		stopGroup(n.procs[i], 15*time.Second)
	}
	// Shims (and anything left in the containers) outlive containerd.
	for _, pid := range n.containerPIDs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	n.unmount()
	removeCgroups()
	for s, v := range n.sysctls {
		os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		t.Logf("remove %s: %v", n.Dir, err)
	}
}

// reapStale stops and removes what a node of a killed test run left
// behind (its cleanup never ran): every other node's processes, mounts and
// directory. Only one node runs at a time, and the caller holds the lock.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ep-node-*"))
	for _, d := range dirs {
		stale := &Node{Dir: d, socket: filepath.Join(d, "containerd.sock")}
		for _, pid := range append(processesUnder(d), stale.containerPIDs()...) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(500 * time.Millisecond)
		stale.unmount()
		os.RemoveAll(d)
	}
	if len(dirs) > 0 {
		removeCgroups()
	}
}

// processesUnder are the processes whose command line names dir.
func processesUnder(dir string) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), dir+"/") {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			if pid != os.Getpid() {
				out = append(out, pid)
			}
		}
	}
	return out
}

// containerPIDs are the shims of this node's containerd and their
// children (the pods' processes).
func (n *Node) containerPIDs() []int {
	var shims []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), n.socket) {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			shims = append(shims, pid)
		}
	}
	out := append([]int(nil), shims...)
	for _, s := range shims {
		out = append(out, children(s)...)
	}
	return out
}

func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var c int
		fmt.Sscanf(f, "%d", &c)
		out = append(out, c)
		out = append(out, children(c)...)
	}
	return out
}

// unmount unmounts everything mounted under the node's directory, deepest
// first.
func (n *Node) unmount() {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && strings.HasPrefix(fs[4], n.Dir) {
			points = append(points, fs[4])
		}
	}
	f.Close()
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// removeCgroups removes the kubepods cgroups the kubelet made, leaves
// first.
func removeCgroups() {
	// Killed containers leave their cgroups a moment after they die.
	for i := 0; i < 40; i++ {
		if removeCgroupsOnce() {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// removeCgroupsOnce removes the cgroups kubelets and ctr made, and says
// whether none is left.
func removeCgroupsOnce() bool {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	more, _ := filepath.Glob("/sys/fs/cgroup/kubepods*")
	// ctr run puts containers under a cgroup named after the namespace.
	ctr, _ := filepath.Glob("/sys/fs/cgroup/*/k8s.io")
	roots = append(append(roots, more...), ctr...)
	for _, r := range roots {
		var dirs []string
		filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
	left := 0
	for _, r := range roots {
		if _, err := os.Stat(r); err == nil {
			left++
		}
	}
	return left == 0
}

// stopGroup stops a process group started with Setpgid: SIGTERM, then
// SIGKILL after grace.
func stopGroup(cmd *exec.Cmd, grace time.Duration) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func freePort(t testutil.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
