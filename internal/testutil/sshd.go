package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// SSHD starts a real OpenSSH server (Debian's openssh-server, which
// .ci/run installs) on a free port of 127.0.0.1 that lets the current user
// in with a key made for the test, and returns the ssh options that reach
// it. The server stops, and its files go, when the test ends; the
// privilege-separation directory it needs is removed again if the test
// made it.
func SSHD(t testing.TB) (target string, port int, options []string) {
	t.Helper()
	SkipShort(t)
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			t.Fatalf("sshd not found: install openssh-server (.ci/run does)")
		}
	}
	dir := Root(t)
	// sshd refuses keys in group- or world-writable directories.
	Must(t, os.Chmod(dir, 0o700))
	hostKey := filepath.Join(dir, "host_ed25519")
	userKey := filepath.Join(dir, "user_ed25519")
	for _, k := range []string{hostKey, userKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(userKey + ".pub")
	Must(t, err)
	auth := filepath.Join(dir, "authorized_keys")
	Must(t, os.WriteFile(auth, pub, 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err)
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "sshd_config")
	Must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
`, port, hostKey, auth, filepath.Join(dir, "sshd.pid"))), 0o600))
	privsepDir(t)
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.Stderr = Writer(t)
	Must(t, cmd.Start(), "start sshd")
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	options = []string{"-i", userKey, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
	// Wait until it accepts connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	return user + "@127.0.0.1", port, options
}

// privsepDir makes sure sshd's privilege-separation directory exists
// while the test runs. Test processes run side by side (go test -p), so
// the directory is shared: each holds a shared lock on a lock file while
// it needs it, and the last one to let go removes the directory if a test
// made it (a marker file inside says so).
func privsepDir(t testing.TB) {
	const dir, marker = "/run/sshd", "/run/sshd/.made-by-etcdpilot-tests"
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "etcdpilot-sshd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	Must(t, err)
	Must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		Must(t, os.MkdirAll(dir, 0o755))
		Must(t, os.WriteFile(marker, nil, 0o600))
	}
	Must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_SH))
	t.Cleanup(func() {
		defer f.Close()
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			return // another test still needs it
		}
		if _, err := os.Stat(marker); err == nil {
			os.RemoveAll(dir)
		}
	})
}
