// Package hostexec runs commands on a member's host: here (Local) or over
// SSH with the system's OpenSSH client (so that ~/.ssh/config, agents,
// jump hosts and known_hosts work as they do for the operator). Every
// runtime that reaches hosts (command hooks, static pods) goes through it.
package hostexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Executor runs a shell script on one host.
type Executor interface {
	// Run runs script with sh -c, bounded by the executor's timeout, and
	// returns what it printed. A non-zero exit is an error that carries
	// the output.
	Run(ctx context.Context, script string) (Output, error)
	// RunInput runs script like Run with in as its standard input (a
	// stream of files). Only ctx bounds it: a transfer takes as long as
	// its size needs.
	RunInput(ctx context.Context, script string, in io.Reader) (Output, error)
	// String names the host ("local", "ssh admin@10.0.0.1").
	String() string
}

// Output is what a command printed.
type Output struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// DefaultTimeout bounds a command when the executor sets none.
const DefaultTimeout = 5 * time.Minute

// Local runs commands on this machine.
type Local struct {
	Timeout time.Duration
}

func (l Local) String() string { return "local" }

// Run runs script with sh -c.
func (l Local) Run(ctx context.Context, script string) (Output, error) {
	return run(ctx, l.Timeout, nil, "local", script, "sh", "-c", script)
}

// RunInput runs script with sh -c, reading in.
func (l Local) RunInput(ctx context.Context, script string, in io.Reader) (Output, error) {
	return run(ctx, -1, in, "local", script, "sh", "-c", script)
}

// SSH runs commands on a host through the ssh client, non-interactively
// (BatchMode: a missing key fails instead of asking for a password).
type SSH struct {
	// Target is [user@]host.
	Target string
	// Port, when not zero, is passed as -p.
	Port int
	// Options are extra ssh arguments (-i KEY, -o Name=value, ...).
	Options []string
	Timeout time.Duration
}

func (s SSH) String() string { return "ssh " + s.Target }

// Run runs script on the host with sh -c.
func (s SSH) Run(ctx context.Context, script string) (Output, error) {
	return run(ctx, s.Timeout, nil, s.String(), script, "ssh", s.args(script)...)
}

// RunInput runs script on the host, its standard input read from in. A
// host that stops answering ends it within a minute (ServerAlive).
func (s SSH) RunInput(ctx context.Context, script string, in io.Reader) (Output, error) {
	return run(ctx, -1, in, s.String(), script, "ssh", s.args(script)...)
}

func (s SSH) args(script string) []string {
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"}
	if s.Port != 0 {
		args = append(args, "-p", fmt.Sprint(s.Port))
	}
	args = append(args, s.Options...)
	// The remote side hands the command line to the user's shell: quote
	// the script as one word for sh -c.
	return append(args, "--", s.Target, "sh -c "+Quote(script))
}

// run runs the command; a negative timeout leaves ctx the only bound.
func run(ctx context.Context, timeout time.Duration, in io.Reader, where, script, name string, args ...string) (Output, error) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cancel := func() {}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, name, args...)
	c.Stdin, c.Stdout, c.Stderr = in, &stdout, &stderr
	c.WaitDelay = 5 * time.Second
	err := c.Run()
	out := Output{Stdout: stdout.String(), Stderr: stderr.String()}
	if c.ProcessState != nil {
		out.ExitCode = c.ProcessState.ExitCode()
	}
	if err == nil {
		return out, nil
	}
	msg := strings.TrimSpace(out.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(out.Stdout)
	}
	if len(msg) > 2000 {
		msg = "..." + msg[len(msg)-2000:]
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil && timeout < 0:
		return out, fmt.Errorf("%s: %q: %w", where, script, ctx.Err())
	case ctx.Err() == context.DeadlineExceeded:
		return out, fmt.Errorf("%s: %q did not finish within %s", where, script, timeout)
	case errors.As(err, &ee) && where != "local" && out.ExitCode == 255:
		return out, fmt.Errorf("%s: ssh failed (exit 255): %s", where, msg)
	case errors.As(err, &ee):
		return out, fmt.Errorf("%s: %q exited with %d: %s", where, script, out.ExitCode, msg)
	}
	return out, fmt.Errorf("%s: %q: %v", where, script, err)
}

// Quote quotes s as one word for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
