package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
)

// Command drives members through shell commands, for hosts etcdpilot does
// not run itself (systemd, configuration management). Templates may use
// {name}, {host} and {version}, each replaced by its value shell-quoted
// (so they stand bare in the template); names and hosts that are not
// plain names are refused before any hook runs. The commands run through a host executor:
// here by default (hooks may call ssh themselves), or on each member's
// host over SSH when Exec says so.
type Command struct {
	StopCmd    string
	StartCmd   string
	InstallCmd string
	// Hosts maps member names to hosts (from their peer URLs).
	Hosts map[string]string
	// Exec returns the executor for a member's host; nil runs every
	// command here.
	Exec func(member, host string) hostexec.Executor
	Log  *slog.Logger
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// Validate checks the templates before anything runs: the stop and start
// commands are required and only known placeholders may appear.
func (c *Command) Validate() error {
	if c.StopCmd == "" || c.StartCmd == "" {
		return fmt.Errorf("the command runtime needs --stop-cmd and --start-cmd (and --install-cmd to change versions)")
	}
	for flag, t := range map[string]string{"--stop-cmd": c.StopCmd, "--start-cmd": c.StartCmd, "--install-cmd": c.InstallCmd} {
		if err := CheckTemplate(flag, t, "{name}", "{host}", "{version}"); err != nil {
			return err
		}
	}
	for name, host := range c.Hosts {
		if err := CheckName(name); err != nil {
			return err
		}
		if err := CheckHost(host); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
	}
	return nil
}

// CheckPlaceholders refuses a template with a placeholder not in known.
func CheckPlaceholders(flag, template string, known ...string) error {
	for _, p := range placeholder.FindAllString(template, -1) {
		ok := false
		for _, k := range known {
			ok = ok || p == k
		}
		if !ok {
			return fmt.Errorf("%s %q: unknown placeholder %s (use %s)", flag, template, p, strings.Join(known, ", "))
		}
	}
	return nil
}

// render fills a template, every value shell-quoted.
func (c *Command) render(t, member, version string) string {
	r := strings.NewReplacer("{name}", hostexec.Quote(member), "{host}", hostexec.Quote(c.Hosts[member]), "{version}", hostexec.Quote(strings.TrimPrefix(version, "v")))
	return r.Replace(t)
}

func (c *Command) run(ctx context.Context, what, member, cmdline string) error {
	if err := CheckName(member); err != nil {
		return err
	}
	x := hostexec.Executor(hostexec.Local{})
	if c.Exec != nil {
		x = c.Exec(member, c.Hosts[member])
	}
	logging.OrDiscard(c.Log).Info("running {hook} on {host}: {command}", "member", member, "hook", what, "host", x, "command", cmdline)
	if _, err := x.Run(ctx, cmdline); err != nil {
		return fmt.Errorf("%s command for %s failed: %w", what, member, err)
	}
	return nil
}

// Start installs the version (when asked for one) and starts the member.
func (c *Command) Start(ctx context.Context, member string, opts StartOptions) error {
	if opts.Version != "" {
		if c.InstallCmd == "" {
			return fmt.Errorf("starting %s on etcd %s needs --install-cmd", member, opts.Version)
		}
		if err := c.run(ctx, "install", member, c.render(c.InstallCmd, member, opts.Version)); err != nil {
			return err
		}
	}
	return c.run(ctx, "start", member, c.render(c.StartCmd, member, opts.Version))
}

// Stop runs the stop command (which should stop gracefully).
func (c *Command) Stop(ctx context.Context, member string) error {
	return c.run(ctx, "stop", member, c.render(c.StopCmd, member, ""))
}
