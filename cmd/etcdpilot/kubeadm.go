package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// kubeadmFlags are --kubeadm and the manifest it reads (--manifest, shared
// with the static-pod runtime where a command has it).
type kubeadmFlags struct {
	on       bool
	manifest *string
}

func addKubeadmFlags(cmd *cobra.Command, k *kubeadmFlags, manifest *string) {
	cmd.Flags().BoolVar(&k.on, "kubeadm", false, "on a kubeadm control-plane node: endpoints from the etcd manifest (--manifest), --cacert and a client certificate from its pki directory (healthcheck-client, else server), the static-pod runtime; each flag given overrides its part")
	if manifest == nil {
		manifest = new(string)
		cmd.Flags().StringVar(manifest, "manifest", staticpod.DefaultManifest, "with --kubeadm: this node's etcd static pod manifest")
	}
	k.manifest = manifest
}

// kubeadmNode is what --kubeadm read on this node: the local member's
// configuration and a static-pod runtime for it.
type kubeadmNode struct {
	Config  *memberconfig.Config
	Runtime *staticpod.Runtime
}

// apply fills the connection settings the command line left out from
// this node's etcd manifest; nil without --kubeadm.
func (k *kubeadmFlags) apply(cmd *cobra.Command, g *globals, sandbox string) (*kubeadmNode, error) {
	if !k.on {
		return nil, nil
	}
	if sandbox != "" {
		return nil, errors.New("--kubeadm reads a control-plane node's manifest and --sandbox names a local sandbox: drop one")
	}
	path, err := localManifest(*k.manifest)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--kubeadm: %v", err)
	}
	m, err := staticpod.Parse(path, data)
	if err != nil {
		return nil, err
	}
	cfg, err := memberconfig.Parse(path, data)
	if err != nil {
		return nil, err
	}
	given := func(name string) bool { return cmd.Flags().Changed(name) }
	need := func(flag string) (string, error) {
		v := m.Flag(flag)
		if v == "" {
			return "", fmt.Errorf("%s: the etcd container has no --%s; give the setting on the command line", path, flag)
		}
		return v, nil
	}
	if !given("endpoints") {
		urls, err := need("advertise-client-urls")
		if err != nil {
			return nil, err
		}
		g.conn.Endpoints = strings.Split(urls, ",")
	}
	if !given("cacert") {
		ca, err := need("trusted-ca-file")
		if err != nil {
			return nil, err
		}
		if g.conn.CACert, err = m.HostPath(ca); err != nil {
			return nil, err
		}
	}
	if !given("cert") && !given("key") {
		if g.conn.Cert, g.conn.Key, err = kubeadmClient(m, filepath.Dir(g.conn.CACert)); err != nil {
			return nil, err
		}
	}
	if !given("endpoints") {
		if !g.addMembers(cmd.Context()) {
			g.peersAsClients(m)
		}
	}
	g.log.Info(fmt.Sprintf("kubeadm: %s from %s, --cacert %s, --cert %s", strings.Join(g.conn.Endpoints, ","), path, g.conn.CACert, g.conn.Cert))
	name := cfg.Name()
	if name == "" {
		return nil, fmt.Errorf("%s: the etcd container has no --name", path)
	}
	return &kubeadmNode{Config: cfg, Runtime: &staticpod.Runtime{Manifests: map[string]string{name: path}, Log: g.log}}, nil
}

// kubeadmClient picks the client certificate kubeadm leaves for the
// purpose, healthcheck-client, beside the CA; else the member's server
// certificate (kubeadm issues it for client authentication too).
func kubeadmClient(m *staticpod.Manifest, pkiDir string) (cert, key string, err error) {
	cert, key = filepath.Join(pkiDir, "healthcheck-client.crt"), filepath.Join(pkiDir, "healthcheck-client.key")
	if _, err := os.Stat(cert); err == nil {
		return cert, key, nil
	}
	for _, f := range []struct {
		flag string
		out  *string
	}{{"cert-file", &cert}, {"key-file", &key}} {
		v := m.Flag(f.flag)
		if v == "" {
			return "", "", fmt.Errorf("%s: no %s and no --%s in the etcd container: give --cert and --key", m.File, filepath.Join(pkiDir, "healthcheck-client.crt"), f.flag)
		}
		if *f.out, err = m.HostPath(v); err != nil {
			return "", "", err
		}
	}
	return cert, key, nil
}

// localManifest is the manifest of this node: the path, or with {name} or
// {host} in it the first file it matches.
func localManifest(p string) (string, error) {
	pattern := strings.NewReplacer("{name}", "*", "{host}", "*").Replace(p)
	matches, err := filepath.Glob(pattern)
	if err == nil && len(matches) == 0 {
		err = fs.ErrNotExist
	}
	if err != nil {
		return "", fmt.Errorf("--kubeadm: no etcd manifest at %s (%v): on a kubeadm control-plane node it is %s; give its path with --manifest", p, err, staticpod.DefaultManifest)
	}
	sort.Strings(matches)
	return matches[0], nil
}

// addMembers adds every member's client URLs to the endpoints, from a
// member list through the local one: a command that restarts the local
// member (or a probe beside it) keeps talking to the cluster meanwhile.
// It reports whether the local member answered.
func (g *globals) addMembers(ctx context.Context) bool {
	p, err := conn.NewPool(g.conn)
	if err != nil {
		return false
	}
	defer p.Close()
	ml, err := status.MemberList(ctx, p)
	if err != nil {
		return false
	}
	seen := map[string]bool{}
	for _, ep := range g.conn.Endpoints {
		seen[ep] = true
	}
	for _, m := range ml.Members {
		for _, u := range m.ClientURLs {
			if !seen[u] && !m.IsLearner {
				seen[u] = true
				g.conn.Endpoints = append(g.conn.Endpoints, u)
			}
		}
	}
	return true
}

// peersAsClients is the way to the cluster when the local member does not
// answer (a dead member about to be replaced): the hosts of the manifest's
// --initial-cluster, on the local client URL's scheme and port, as kubeadm
// lays out every control-plane node.
func (g *globals) peersAsClients(m *staticpod.Manifest) {
	local, err := url.Parse(g.conn.Endpoints[0])
	if err != nil {
		return
	}
	var added []string
	for _, part := range strings.Split(m.Flag("initial-cluster"), ",") {
		_, peer, ok := strings.Cut(part, "=")
		pu, err := url.Parse(peer)
		if !ok || err != nil || pu.Hostname() == local.Hostname() {
			continue
		}
		ep := local.Scheme + "://" + net.JoinHostPort(pu.Hostname(), local.Port())
		if !slices.Contains(g.conn.Endpoints, ep) {
			g.conn.Endpoints = append(g.conn.Endpoints, ep)
			added = append(added, ep)
		}
	}
	if len(added) > 0 {
		g.log.Warn(fmt.Sprintf("kubeadm: the local member does not answer; trying the other control-plane nodes of --initial-cluster: %s (give --endpoints to choose)", strings.Join(added, ",")))
	}
}
