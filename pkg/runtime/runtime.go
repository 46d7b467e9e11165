// Package runtime defines how etcdpilot stops, starts and disturbs etcd
// members, whatever runs them: local sandbox processes, command hooks for
// systemd or SSH hosts, or kubeadm static pods.
package runtime

import (
	"context"
	"errors"
)

// ErrNotSupported is returned by runtimes that cannot do an operation (for
// example Pause on a systemd host).
var ErrNotSupported = errors.New("not supported by this runtime")

// StartOptions say how to start a member.
type StartOptions struct {
	// Version is the etcd version whose binary to run; empty keeps the
	// member's current version.
	Version string
	// RenameFlags maps a flag the member is configured with ("--experimental-x")
	// to its replacement ("--x"); an empty replacement drops the flag.
	RenameFlags map[string]string
}

// Runtime drives the processes of a cluster's members, by member name.
type Runtime interface {
	// Start starts the member and returns once it runs (or has failed).
	Start(ctx context.Context, member string, opts StartOptions) error
	// Stop stops the member gracefully (SIGTERM), killing it after the
	// runtime's timeout.
	Stop(ctx context.Context, member string) error
	// Kill stops the member at once (SIGKILL).
	Kill(ctx context.Context, member string) error
	// Pause freezes the member (SIGSTOP); Resume thaws it (SIGCONT).
	Pause(ctx context.Context, member string) error
	Resume(ctx context.Context, member string) error
	// Version returns the etcd version the runtime runs for the member.
	Version(ctx context.Context, member string) (string, error)
	// Flags returns the member's configured command-line flags.
	Flags(ctx context.Context, member string) ([]string, error)
}

// RenameFlags applies renames to a flag list ("--a=b" or "--a", "b" forms).
func RenameFlags(flags []string, renames map[string]string) []string {
	if len(renames) == 0 {
		return flags
	}
	var out []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		name, value, hasValue := splitFlag(f)
		repl, ok := renames[name]
		if !ok {
			out = append(out, f)
			continue
		}
		if repl == "" { // dropped; drop a separate value too
			if !hasValue && i+1 < len(flags) && !isFlag(flags[i+1]) {
				i++
			}
			continue
		}
		if hasValue {
			out = append(out, repl+"="+value)
		} else {
			out = append(out, repl)
		}
	}
	return out
}

func splitFlag(f string) (name, value string, hasValue bool) {
	for i := 0; i < len(f); i++ {
		if f[i] == '=' {
			return normalize(f[:i]), f[i+1:], true
		}
	}
	return normalize(f), "", false
}

// normalize turns "-flag" into "--flag".
func normalize(name string) string {
	if len(name) > 1 && name[0] == '-' && name[1] != '-' {
		return "-" + name
	}
	return name
}

func isFlag(s string) bool { return len(s) > 1 && s[0] == '-' }
