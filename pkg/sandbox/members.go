package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// A sandbox offers every capability of a runtime.
var (
	_ runtime.Runtime     = (*Sandbox)(nil)
	_ runtime.FlagRenamer = (*Sandbox)(nil)
	_ runtime.Inspector   = (*Sandbox)(nil)
	_ runtime.Killer      = (*Sandbox)(nil)
	_ runtime.Pauser      = (*Sandbox)(nil)
	_ runtime.Provisioner = (*Sandbox)(nil)
)

// args is the member's full etcd command line (without the binary).
func (st *State) args(m *Member) []string {
	a := []string{
		"--name=" + m.Name,
		"--data-dir=" + m.DataDir,
		"--listen-client-urls=" + m.ClientURL,
		"--advertise-client-urls=" + m.Endpoint(),
		"--listen-peer-urls=" + m.PeerURL,
		"--initial-advertise-peer-urls=" + m.PeerURL,
		"--initial-cluster=" + m.InitialCluster,
		"--initial-cluster-state=" + m.InitialClusterState,
		"--initial-cluster-token=" + st.Token,
		"--logger=zap",
		"--log-outputs=stderr",
	}
	if st.TLS != nil {
		a = append(a,
			"--cert-file="+m.Cert.Cert, "--key-file="+m.Cert.Key,
			"--trusted-ca-file="+st.TLS.CA, "--client-cert-auth=true",
			"--peer-cert-file="+m.Cert.Cert, "--peer-key-file="+m.Cert.Key,
			"--peer-trusted-ca-file="+st.TLS.CA, "--peer-client-cert-auth=true",
		)
	}
	return append(a, m.ExtraFlags...)
}

// Start starts a stopped member, optionally with another version's binary
// (runtime.Runtime). Starting a running member on its own version is not
// an error.
func (s *Sandbox) Start(ctx context.Context, name string, opts runtime.StartOptions) error {
	return s.start(ctx, name, opts.Version, nil)
}

// StartWithFlags starts a stopped member with extra flags for this start
// only (runtime.FlagOverrider); a later flag overrides the member's own.
func (s *Sandbox) StartWithFlags(ctx context.Context, name string, opts runtime.StartOptions, flags []string) error {
	return s.start(ctx, name, opts.Version, flags)
}

// Members names the sandbox's members (runtime.Lister).
func (s *Sandbox) Members(ctx context.Context) ([]string, error) {
	st, err := s.State()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range st.Members {
		out = append(out, m.Name)
	}
	return out, nil
}

// Running reports whether the member's process runs
// (runtime.ProcessReporter).
func (s *Sandbox) Running(ctx context.Context, name string) (bool, error) {
	m, err := s.member(name)
	if err != nil {
		return false, err
	}
	return m.Running(), nil
}

// LogTail returns the member's last log lines since its last start
// (runtime.LogReader).
func (s *Sandbox) LogTail(ctx context.Context, name string, lines int) (string, error) {
	m, err := s.member(name)
	if err != nil {
		return "", err
	}
	return LogTail(m.LogFile, lines), nil
}

// DataDir is the member's data directory (runtime.DataDirs).
func (s *Sandbox) DataDir(ctx context.Context, name string) (string, error) {
	m, err := s.member(name)
	if err != nil {
		return "", err
	}
	return m.DataDir, nil
}

// RenameFlags rewrites the member's extra flags; they apply at its next
// start (runtime.FlagRenamer).
func (s *Sandbox) RenameFlags(ctx context.Context, name string, renames map[string]string) error {
	return s.UpdateMember(name, func(m *Member) error {
		m.ExtraFlags = runtime.RenameFlags(m.ExtraFlags, renames)
		return nil
	})
}

func (s *Sandbox) start(ctx context.Context, name, v string, extra []string) error {
	st, err := s.State()
	if err != nil {
		return err
	}
	m, err := st.Member(name)
	if err != nil {
		return err
	}
	if v == "" {
		v = m.Version
	}
	cv, err := version.Canonical(v)
	if err != nil {
		return err
	}
	if m.Process.alive() {
		if cv == m.Version {
			return nil
		}
		return fmt.Errorf("member %s is already running etcd %s (pid %d); stop it before starting it on %s", name, version.Plain(m.Version), m.Process.PID, version.Plain(cv))
	}
	if err := killUnrecorded(m); err != nil {
		return err
	}
	in, err := s.Binaries.Install(ctx, cv, binaries.Options{})
	if err != nil {
		return err
	}
	bin, err := in.Bin("etcd")
	if err != nil {
		return err
	}
	m.Version = cv
	args := append(st.args(m), extra...)
	if err := os.MkdirAll(filepath.Dir(m.LogFile), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.DataDir), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(m.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s %s %s\n", startMarker, time.Now().UTC().Format(time.RFC3339Nano), strings.Join(append([]string{bin}, args...), " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.Dir
	// A session of its own: the member outlives this command and ignores
	// the terminal's signals; a shadow's dies with the process that
	// starts it (SIGKILL from the kernel when that process is gone).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if st.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start member %s: %w", name, err)
	}
	go cmd.Wait() // reap the child if it exits while we are still running
	p, err := procOf(cmd.Process.Pid)
	if err != nil {
		p = proc{PID: cmd.Process.Pid}
	}
	err = s.Update(func(st *State) error {
		sm, err := st.Member(name)
		if err != nil {
			return err
		}
		sm.Process = p
		sm.Version = cv
		return nil
	})
	if err != nil {
		p.signal(sigKill)
		return err
	}
	return s.waitListening(ctx, m, p)
}

// killUnrecorded kills a process on the member's data dir that the state
// does not record: a command killed between starting the member and
// recording its process left it running, holding the member's ports and
// its data dir's lock, so that no start could succeed.
func killUnrecorded(m *Member) error {
	for _, p := range processesWithArg("--data-dir=" + m.DataDir) {
		if err := p.signal(sigKill); err != nil && !errors.Is(err, errGone) {
			return fmt.Errorf("member %s: kill etcd pid %d, which runs on its data dir unrecorded: %w", m.Name, p.PID, err)
		}
		if !p.waitGone(10 * time.Second) {
			return fmt.Errorf("member %s: etcd pid %d, which runs on its data dir unrecorded, survived SIGKILL", m.Name, p.PID)
		}
	}
	return nil
}

// startMarker starts the log line written before each start, so that the
// log tail of a failed start shows only that start.
const startMarker = "=== etcdpilot start"

// waitListening waits until the member's client port accepts connections,
// or fails with the log tail when the process exits first.
func (s *Sandbox) waitListening(ctx context.Context, m *Member, p proc) error {
	timeout := s.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	addr := fmt.Sprintf("127.0.0.1:%d", m.ClientPort)
	for {
		if !p.alive() {
			return startFailure(m)
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// Something listens; make sure it is our member and not a
			// process that took the port first.
			time.Sleep(100 * time.Millisecond)
			if p.alive() {
				return nil
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member %s did not listen on %s within %s; last log lines:\n%s", m.Name, addr, timeout, LogTail(m.LogFile, 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM (and SIGCONT, in case the member is paused) and kills
// the member if it has not exited after StopTimeout.
func (s *Sandbox) Stop(ctx context.Context, name string) error {
	m, err := s.member(name)
	if err != nil {
		return err
	}
	if !m.Process.alive() {
		return nil
	}
	m.Process.signal(sigTerm)
	m.Process.signal(sigCont)
	timeout := s.StopTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	if m.Process.waitGone(timeout) {
		return nil
	}
	s.log().Warn("member {member} did not stop within {timeout}; killing it", "member", name, "timeout", timeout)
	m.Process.signal(sigKill)
	if !m.Process.waitGone(10 * time.Second) {
		return fmt.Errorf("member %s (pid %d) survived SIGKILL", name, m.Process.PID)
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to go.
func (s *Sandbox) Kill(ctx context.Context, name string) error {
	m, err := s.member(name)
	if err != nil {
		return err
	}
	if err := m.Process.signal(sigKill); err != nil && err != errGone {
		return err
	}
	m.Process.waitGone(10 * time.Second)
	return nil
}

// Pause freezes the member with SIGSTOP.
func (s *Sandbox) Pause(ctx context.Context, name string) error {
	m, err := s.member(name)
	if err != nil {
		return err
	}
	if err := m.Process.signal(sigStop); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	// The signal is delivered asynchronously; return once it has landed.
	for i := 0; i < 100 && !m.Process.stopped(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Resume thaws a paused member with SIGCONT.
func (s *Sandbox) Resume(ctx context.Context, name string) error {
	m, err := s.member(name)
	if err != nil {
		return err
	}
	if err := m.Process.signal(sigCont); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}

// Version returns the version the member runs (or last ran).
func (s *Sandbox) Version(ctx context.Context, name string) (string, error) {
	m, err := s.member(name)
	if err != nil {
		return "", err
	}
	return m.Version, nil
}

// Flags returns the member's full command line.
func (s *Sandbox) Flags(ctx context.Context, name string) ([]string, error) {
	st, err := s.State()
	if err != nil {
		return nil, err
	}
	m, err := st.Member(name)
	if err != nil {
		return nil, err
	}
	return st.args(m), nil
}

func (s *Sandbox) member(name string) (*Member, error) {
	st, err := s.State()
	if err != nil {
		return nil, err
	}
	return st.Member(name)
}

// LogTail returns the last n lines written since the member's last start.
func LogTail(path string, n int) string {
	lines, err := logLines(path)
	if err != nil && lines == nil {
		return "(no log: " + err.Error() + ")"
	}
	// A Go panic ends with its goroutines' stacks: show the panic and the
	// first frames instead of the last frames.
	for i, line := range lines {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			if i+n < len(lines) {
				lines = append(lines[i:i+n:i+n], "...")
			} else {
				lines = lines[i:]
			}
			return strings.Join(lines, "\n")
		}
	}
	// Keep the first lines too: etcd prints a flag error first and then its
	// whole usage text.
	if len(lines) > n+3 {
		lines = append(append(lines[:3:3], "..."), lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
