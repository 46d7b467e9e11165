package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Command drives members through shell commands, for hosts etcdpilot does
// not run itself (systemd over SSH, configuration management). Templates
// may use {name}, {host} and {version}.
type Command struct {
	StopCmd    string
	StartCmd   string
	InstallCmd string
	// Hosts maps member names to hosts (from their peer URLs).
	Hosts map[string]string
	// Timeout bounds each command (default 5 minutes).
	Timeout time.Duration
	Out     io.Writer
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

var knownPlaceholders = map[string]bool{"{name}": true, "{host}": true, "{version}": true}

// Validate checks the templates before anything runs: the stop and start
// commands are required and only known placeholders may appear.
func (c *Command) Validate() error {
	if c.StopCmd == "" || c.StartCmd == "" {
		return fmt.Errorf("the command runtime needs --stop-cmd and --start-cmd (and --install-cmd to change versions)")
	}
	for flag, t := range map[string]string{"--stop-cmd": c.StopCmd, "--start-cmd": c.StartCmd, "--install-cmd": c.InstallCmd} {
		for _, p := range placeholder.FindAllString(t, -1) {
			if !knownPlaceholders[p] {
				return fmt.Errorf("%s %q: unknown placeholder %s (use {name}, {host}, {version})", flag, t, p)
			}
		}
	}
	return nil
}

func (c *Command) render(t, member, version string) string {
	r := strings.NewReplacer("{name}", member, "{host}", c.Hosts[member], "{version}", strings.TrimPrefix(version, "v"))
	return r.Replace(t)
}

func (c *Command) run(ctx context.Context, what, cmdline string) error {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if c.Out != nil {
		fmt.Fprintf(c.Out, "running %s: %s\n", what, cmdline)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s command %q failed: %v: %s", what, cmdline, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Start installs the version (when asked for one) and starts the member.
func (c *Command) Start(ctx context.Context, member string, opts StartOptions) error {
	if len(opts.RenameFlags) > 0 {
		return fmt.Errorf("the command runtime cannot rename flags in the member's configuration; change them to %v first", opts.RenameFlags)
	}
	if opts.Version != "" {
		if c.InstallCmd == "" {
			return fmt.Errorf("starting %s on etcd %s needs --install-cmd", member, opts.Version)
		}
		if err := c.run(ctx, "install", c.render(c.InstallCmd, member, opts.Version)); err != nil {
			return err
		}
	}
	return c.run(ctx, "start", c.render(c.StartCmd, member, opts.Version))
}

// Stop runs the stop command (which should stop gracefully).
func (c *Command) Stop(ctx context.Context, member string) error {
	return c.run(ctx, "stop", c.render(c.StopCmd, member, ""))
}

// Kill is not offered by command hooks.
func (c *Command) Kill(ctx context.Context, member string) error { return ErrNotSupported }

// Pause is not offered by command hooks.
func (c *Command) Pause(ctx context.Context, member string) error { return ErrNotSupported }

// Resume is not offered by command hooks.
func (c *Command) Resume(ctx context.Context, member string) error { return ErrNotSupported }

// Version is learnt from the cluster, not from the hooks.
func (c *Command) Version(ctx context.Context, member string) (string, error) {
	return "", ErrNotSupported
}

// Flags are not visible through command hooks.
func (c *Command) Flags(ctx context.Context, member string) ([]string, error) {
	return nil, ErrNotSupported
}
