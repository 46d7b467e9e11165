// Package runtime defines how etcdpilot stops and starts etcd members,
// whatever runs them: local sandbox processes, command hooks for systemd or
// SSH hosts, or kubeadm static pods.
//
// An upgrade needs only Runtime: stop this member, start it on version V.
// Everything else is an optional capability (FlagRenamer, FlagOverrider,
// DataDirs, FileReader, Hosted, ProcessReporter, Lister, LogReader, Inspector, Killer, Pauser,
// Provisioner) that a runtime may offer and a caller
// discovers with a type assertion; Has names the ones a runtime offers.
package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

// ErrNotSupported is returned when a runtime lacks a capability a caller
// needs (for example Pause on a systemd host).
var ErrNotSupported = errors.New("not supported by this runtime")

// StartOptions say how to start a member.
type StartOptions struct {
	// Version is the etcd version whose binary to run; empty keeps the
	// member's current version.
	Version string
}

// Runtime stops and starts a cluster's members, by member name.
type Runtime interface {
	// Stop stops the member gracefully (SIGTERM, systemctl stop, the
	// static pod's manifest moved away) and returns once it is down.
	// Stopping a member that is down is not an error.
	Stop(ctx context.Context, member string) error
	// Start starts the member, on opts.Version when set, with its data
	// directory and configuration, and returns once it runs (or failed).
	Start(ctx context.Context, member string, opts StartOptions) error
}

// FlagRenamer is a runtime that owns its members' configuration and can
// rewrite it: renames maps a flag ("--experimental-x") to its replacement
// ("--x"); an empty replacement drops the flag.
type FlagRenamer interface {
	RenameFlags(ctx context.Context, member string, renames map[string]string) error
}

// Inspector reads a member's configured version and flags (from its
// process, unit or manifest), for plans.
type Inspector interface {
	Version(ctx context.Context, member string) (string, error)
	Flags(ctx context.Context, member string) ([]string, error)
}

// FlagOverrider is a runtime that owns its members' configuration and can
// start a member once with extra flags, dropped again at its next start:
// the --snapshot-count=1 restart that makes a member take a raft snapshot.
type FlagOverrider interface {
	StartWithFlags(ctx context.Context, member string, opts StartOptions, flags []string) error
}

// DataDirs is a runtime whose members' data directories can be read on
// this machine (sandboxes; static pods on this node).
type DataDirs interface {
	DataDir(ctx context.Context, member string) (string, error)
}

// LocalDataDir is the member's data directory when this machine can read
// it: the runtime names it (DataDirs), and the member's host, if the
// runtime has hosts, is this one. ok is false otherwise — a static pod
// over SSH names a path on its own node, which here may be another
// member's data directory.
func LocalDataDir(ctx context.Context, rt Runtime, member string) (dir string, ok bool, err error) {
	dd, can := rt.(DataDirs)
	if !can || !Local(rt, member) {
		return "", false, nil
	}
	dir, err = dd.DataDir(ctx, member)
	return dir, err == nil, err
}

// Local says whether the member's host is this machine: the runtime has
// no hosts, or reaches this member's with the local executor.
func Local(rt Runtime, member string) bool {
	h, hosted := rt.(Hosted)
	if !hosted {
		return true
	}
	ex := h.Host(member)
	if ex == nil {
		return true
	}
	_, local := ex.(hostexec.Local)
	return local
}

// Hosted is a runtime whose members live on hosts it reaches through an
// executor (here or over SSH): what must end up on a member's host (a
// restored data directory) goes through Host.
type Hosted interface {
	Host(member string) hostexec.Executor
}

// FileReader reads a file a member's configuration names (a certificate)
// on the member's host, as the member sees it.
type FileReader interface {
	ReadFile(ctx context.Context, member, path string) ([]byte, error)
}

// Lister names the members a runtime runs, whether they answer or not.
type Lister interface {
	Members(ctx context.Context) ([]string, error)
}

// ProcessReporter tells whether a member's process runs.
type ProcessReporter interface {
	Running(ctx context.Context, member string) (bool, error)
}

// LogReader returns the last lines a member logged since its last start,
// for errors that say why it did not come up.
type LogReader interface {
	LogTail(ctx context.Context, member string, lines int) (string, error)
}

// Killer stops a member at once (SIGKILL), for fault drills.
type Killer interface {
	Kill(ctx context.Context, member string) error
}

// Pauser freezes a member (SIGSTOP) and thaws it.
type Pauser interface {
	Pause(ctx context.Context, member string) error
	Resume(ctx context.Context, member string) error
}

// NewMember is what a Provisioner reserved for a member to be added.
type NewMember struct {
	Name     string
	PeerURLs []string
	// Running is true when the member was provisioned and started before
	// (an add run again).
	Running bool
}

// Provisioner makes room for new members and retires old ones: ports,
// data directories, certificates and processes.
type Provisioner interface {
	// Provision reserves a new member (or returns the one reserved
	// earlier under that name) without starting it.
	Provision(ctx context.Context, name, version string) (NewMember, error)
	// Join starts a provisioned member with the --initial-cluster the
	// cluster gave it (initial-cluster-state existing).
	Join(ctx context.Context, name, initialCluster string) error
	// Retire stops a member and moves its data directory aside (never
	// deleting it); the name can be provisioned again.
	Retire(ctx context.Context, name string) error
	// Provisioned reports whether the runtime knows a member of that name.
	Provisioned(ctx context.Context, name string) bool
}

// Has lists the optional capabilities rt offers.
func Has(rt Runtime) []string {
	var out []string
	if _, ok := rt.(FlagRenamer); ok {
		out = append(out, "rename-flags")
	}
	if _, ok := rt.(Inspector); ok {
		out = append(out, "inspect")
	}
	if _, ok := rt.(FileReader); ok {
		out = append(out, "read-files")
	}
	if _, ok := rt.(Hosted); ok {
		out = append(out, "hosts")
	}
	if _, ok := rt.(FlagOverrider); ok {
		out = append(out, "override-flags")
	}
	if _, ok := rt.(DataDirs); ok {
		out = append(out, "data-dirs")
	}
	if _, ok := rt.(ProcessReporter); ok {
		out = append(out, "process")
	}
	if _, ok := rt.(Lister); ok {
		out = append(out, "list")
	}
	if _, ok := rt.(LogReader); ok {
		out = append(out, "logs")
	}
	if _, ok := rt.(Killer); ok {
		out = append(out, "kill")
	}
	if _, ok := rt.(Pauser); ok {
		out = append(out, "pause")
	}
	if _, ok := rt.(Provisioner); ok {
		out = append(out, "provision")
	}
	return out
}

// Kill kills a member if the runtime can, else ErrNotSupported.
func Kill(ctx context.Context, rt Runtime, member string) error {
	k, ok := rt.(Killer)
	if !ok {
		return fmt.Errorf("kill %s: %w", member, ErrNotSupported)
	}
	return k.Kill(ctx, member)
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
