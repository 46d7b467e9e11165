package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Systemd is a real systemd (Debian's, the one `systemctl` talks to on a
// host) booted as PID 1 of a PID, mount and cgroup namespace of its own,
// so a unit file can be started, hardened exactly as shipped, without
// touching the host:
//   - /etc, /usr/local and /var are overlays whose changes land in the
//     test's directory (Etc, UsrLocal, Var are their upper layers: write a
//     file there before Boot and the unit sees it at its path);
//   - /run and /tmp are fresh tmpfs, /sys/fs/cgroup a cgroup2 mount whose root is a
//     cgroup made for the test and removed after it;
//   - the unit directory holds the units given and empty stand-ins for the
//     targets a unit names (sysinit, basic, network-online, multi-user...),
//     so nothing of the host's own services starts.
//
// The network is the host's: a service reaches 127.0.0.1 like any other.
type Systemd struct {
	Dir                string
	Etc, UsrLocal, Var string
	units              string
	pid                int
	cgroup             string
}

// stubTargets are the targets a service's default dependencies and
// common After=/Wants= lines name.
var stubTargets = []string{"sysinit", "basic", "multi-user", "network", "network-online", "network-pre", "shutdown", "sockets", "timers", "paths",
	"local-fs", "local-fs-pre", "remote-fs", "slices", "swap", "emergency", "rescue", "graphical", "nss-lookup", "time-sync", "umount", "final"}

// NewSystemd prepares the directories; write the files the units need
// into Etc, UsrLocal and Var, then Boot.
func NewSystemd(t T) *Systemd {
	t.Helper()
	SkipShort(t)
	for _, tool := range []string{"/lib/systemd/systemd", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install systemd and util-linux (make test's test-deps does)", tool)
		}
	}
	dir := Root(t)
	s := &Systemd{Dir: dir, Etc: filepath.Join(dir, "etc"), UsrLocal: filepath.Join(dir, "usr-local"), Var: filepath.Join(dir, "var"), units: filepath.Join(dir, "units")}
	for _, d := range []string{s.Etc, s.UsrLocal, s.Var, s.units, filepath.Join(dir, "work-etc"), filepath.Join(dir, "work-usr-local"), filepath.Join(dir, "work-var")} {
		Must(t, os.MkdirAll(d, 0o755))
	}
	for _, tg := range stubTargets {
		Must(t, os.WriteFile(filepath.Join(s.units, tg+".target"), []byte("[Unit]\nDescription="+tg+" (stand-in)\n"), 0o644))
	}
	return s
}

// Unit installs a unit file (and, with dropIn, a drop-in for it) in the
// unit directory.
func (s *Systemd) Unit(t T, name, text string, dropIn string) {
	t.Helper()
	Must(t, os.WriteFile(filepath.Join(s.units, name), []byte(text), 0o644))
	if dropIn != "" {
		d := filepath.Join(s.units, name+".d")
		Must(t, os.MkdirAll(d, 0o755))
		Must(t, os.WriteFile(filepath.Join(d, "test.conf"), []byte(dropIn), 0o644))
	}
}

// Boot starts systemd with default.target wanting the units named.
func (s *Systemd) Boot(t T, wants ...string) {
	t.Helper()
	Must(t, os.WriteFile(filepath.Join(s.units, "default.target"), []byte("[Unit]\nDescription=test\nWants="+strings.Join(wants, " ")+"\n"), 0o644))
	s.cgroup = fmt.Sprintf("etcdpilot-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	overlay := func(path, name string) string {
		return fmt.Sprintf("mount -t overlay overlay -o lowerdir=%[1]s,upperdir=%[2]s,workdir=%[3]s %[1]s\n", path, filepath.Join(s.Dir, name), filepath.Join(s.Dir, "work-"+name))
	}
	script := "set -e\n" +
		"mount -t cgroup2 none /sys/fs/cgroup\n" +
		"mkdir /sys/fs/cgroup/" + s.cgroup + "\n" +
		"echo $$ > /sys/fs/cgroup/" + s.cgroup + "/cgroup.procs\n" +
		"umount /sys/fs/cgroup\n" +
		overlay("/etc", "etc") + overlay("/usr/local", "usr-local") + overlay("/var", "var") +
		"mount -t tmpfs -o mode=0755 tmpfs /run\n" +
		"mkdir -p /run/lock && chmod 1777 /run/lock\n" +
		"mount --bind " + s.units + " /lib/systemd/system\n" +
		"mount -t tmpfs tmpfs /etc/systemd/system\n" +
		// Last: the script and the layers above live under /tmp. A private
		// /tmp keeps PrivateTmp='s directories off the host's.
		"mount -t tmpfs tmpfs /tmp\n" +
		"exec unshare --cgroup sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec /lib/systemd/systemd --system --unit=default.target'\n"
	Must(t, os.WriteFile(filepath.Join(s.Dir, "boot.sh"), []byte(script), 0o755))
	logf, err := os.Create(filepath.Join(s.Dir, "systemd.log"))
	Must(t, err)
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--propagation", "private", "--mount-proc", "sh", filepath.Join(s.Dir, "boot.sh"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Must(t, cmd.Start())
	t.Cleanup(func() {
		// PID 1 of the namespace gone, the kernel kills everything in it.
		if s.pid > 0 {
			syscall.Kill(s.pid, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		s.removeCgroup(t)
	})
	// The namespace's PID 1 is the child of unshare.
	Eventually(t, 30*time.Second, func() error {
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(cmd.Process.Pid)).Output()
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(s.Dir, "systemd.log"))
			return fmt.Errorf("systemd has not started: %s", b)
		}
		s.pid = pid
		// Up once the boot is done: running, or degraded (a unit failed).
		out, err = exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "-p", "-C", "--", "systemctl", "is-system-running").Output()
		if state := strings.TrimSpace(string(out)); state != "running" && state != "degraded" {
			return fmt.Errorf("systemd is %q (%v)", state, err)
		}
		return nil
	})
}

// Run runs a command inside the namespaces (systemctl, systemd-analyze).
func (s *Systemd) Run(args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(s.pid), "-m", "-p", "-C", "--"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// removeCgroup removes the test's cgroup tree once its processes are gone.
func (s *Systemd) removeCgroup(t T) {
	mnt := filepath.Join(s.Dir, "cgroup2")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return
	}
	if err := syscall.Mount("none", mnt, "cgroup2", 0, ""); err != nil {
		t.Logf("cgroup2 not mounted for cleanup: %v", err)
		return
	}
	defer syscall.Unmount(mnt, 0)
	root := filepath.Join(mnt, s.cgroup)
	Eventually(t, 30*time.Second, func() error {
		var dirs []string
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
