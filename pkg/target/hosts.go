package target

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
)

// HostRuntime is the runtime for real hosts (the members of ml, each on
// the host of its peer URL): command hooks or static pods, reached here
// or, with --ssh, on each member's host.
func HostRuntime(f Flags, kind string, ml *clientv3.MemberListResponse, log *slog.Logger) (runtime.Runtime, error) {
	hosts, err := Hosts(ml)
	if err != nil {
		return nil, err
	}
	// Names and hosts go into hooks, manifest paths and ssh targets:
	// anything but plain names is refused before anything runs.
	for name, host := range hosts {
		if err := runtime.CheckName(name); err != nil {
			return nil, err
		}
		if err := runtime.CheckHost(host); err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
	}
	var exec func(member, host string) hostexec.Executor
	if f.SSH != "" {
		if err := runtime.CheckPlaceholders("--ssh", f.SSH, "{host}", "{name}"); err != nil {
			return nil, err
		}
		exec = func(member, host string) hostexec.Executor {
			target := strings.NewReplacer("{host}", host, "{name}", member).Replace(f.SSH)
			return hostexec.SSH{Target: target, Port: f.SSHPort, Options: SSHArgs(f.SSHOptions)}
		}
	}
	if kind == RuntimeStaticPod {
		if err := runtime.CheckPlaceholders("--manifest", f.Manifest, "{host}", "{name}"); err != nil {
			return nil, err
		}
		if exec == nil && len(hosts) > 1 && !strings.Contains(f.Manifest, "{name}") && !strings.Contains(f.Manifest, "{host}") {
			return nil, fmt.Errorf("--runtime static-pod edits %s on this machine, but the cluster has %d members: reach their hosts with --ssh root@{host}, or name each member's manifest with {name} in --manifest", f.Manifest, len(hosts))
		}
		rt := &staticpod.Runtime{Manifests: map[string]string{}, Image: f.Image, PodLogs: f.PodLogs, Log: log}
		for name, host := range hosts {
			rt.Manifests[name] = strings.NewReplacer("{host}", host, "{name}", name).Replace(f.Manifest)
		}
		if exec != nil {
			rt.Exec = func(member string) hostexec.Executor { return exec(member, hosts[member]) }
		}
		return rt, nil
	}
	rt := &runtime.Command{StopCmd: f.StopCmd, StartCmd: f.StartCmd, InstallCmd: f.InstallCmd, Log: log, Hosts: hosts, Exec: exec}
	if err := rt.Validate(); err != nil {
		return nil, err
	}
	return rt, nil
}

// SSHArgs turns --ssh-option values ("-i=KEY", "-oX=y") into arguments.
func SSHArgs(opts []string) []string {
	var out []string
	for _, o := range opts {
		if k, v, ok := strings.Cut(o, "="); ok && len(k) == 2 && k[0] == '-' {
			out = append(out, k, v)
			continue
		}
		out = append(out, o)
	}
	return out
}

// Hosts maps member names to the hosts of their peer URLs, for {host}.
func Hosts(ml *clientv3.MemberListResponse) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range ml.Members {
		if len(m.PeerURLs) == 0 {
			continue
		}
		u, err := url.Parse(m.PeerURLs[0])
		if err != nil {
			return nil, fmt.Errorf("member %s peer URL %q: %w", m.Name, m.PeerURLs[0], err)
		}
		out[m.Name] = u.Hostname()
	}
	return out, nil
}
