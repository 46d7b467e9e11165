package target

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/staticpod"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Node is what --kubeadm read on this node: the local member's
// configuration and a static-pod runtime for it.
type Node struct {
	Config  *memberconfig.Config
	Runtime *staticpod.Runtime
}

// readKubeadm fills the connection settings the command line left out
// from this node's etcd manifest.
func readKubeadm(ctx context.Context, manifest string, env Env) (*Node, conn.Config, error) {
	c := env.Conn
	path, err := localManifest(manifest)
	if err != nil {
		return nil, c, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, c, fmt.Errorf("--kubeadm: %v", err)
	}
	m, err := staticpod.Parse(path, data)
	if err != nil {
		return nil, c, err
	}
	cfg, err := memberconfig.Parse(path, data)
	if err != nil {
		return nil, c, err
	}
	need := func(flag string) (string, error) {
		v := m.Flag(flag)
		if v == "" {
			return "", fmt.Errorf("%s: the etcd container has no --%s; give the setting on the command line", path, flag)
		}
		return v, nil
	}
	if !env.Given("endpoints") {
		urls, err := need("advertise-client-urls")
		if err != nil {
			return nil, c, err
		}
		c.Endpoints = strings.Split(urls, ",")
	}
	if !env.Given("cacert") {
		ca, err := need("trusted-ca-file")
		if err != nil {
			return nil, c, err
		}
		if c.CACert, err = m.HostPath(ca); err != nil {
			return nil, c, err
		}
	}
	if !env.Given("cert") && !env.Given("key") {
		if c.Cert, c.Key, err = kubeadmClient(m, filepath.Dir(c.CACert)); err != nil {
			return nil, c, err
		}
	}
	if !env.Given("endpoints") {
		if !addMembers(ctx, &c) {
			peersAsClients(&c, m, env)
		}
	}
	env.Log.Info("kubeadm: {endpoints} from {manifest}, --cacert {cacert}, --cert {cert}", "endpoints", strings.Join(c.Endpoints, ","), "manifest", path, "cacert", c.CACert, "cert", c.Cert)
	name := cfg.Name()
	if name == "" {
		return nil, c, fmt.Errorf("%s: the etcd container has no --name", path)
	}
	return &Node{Config: cfg, Runtime: &staticpod.Runtime{Manifests: map[string]string{name: path}, Log: env.Log}}, c, nil
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
func addMembers(ctx context.Context, c *conn.Config) bool {
	p, err := conn.NewPool(*c)
	if err != nil {
		return false
	}
	defer p.Close()
	ml, err := status.MemberList(ctx, p)
	if err != nil {
		return false
	}
	seen := map[string]bool{}
	for _, ep := range c.Endpoints {
		seen[ep] = true
	}
	for _, m := range ml.Members {
		for _, u := range m.ClientURLs {
			if !seen[u] && !m.IsLearner {
				seen[u] = true
				c.Endpoints = append(c.Endpoints, u)
			}
		}
	}
	return true
}

// peersAsClients is the way to the cluster when the local member does not
// answer (a dead member about to be replaced): the hosts of the manifest's
// --initial-cluster, on the local client URL's scheme and port, as kubeadm
// lays out every control-plane node.
func peersAsClients(c *conn.Config, m *staticpod.Manifest, env Env) {
	local, err := url.Parse(c.Endpoints[0])
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
		if !slices.Contains(c.Endpoints, ep) {
			c.Endpoints = append(c.Endpoints, ep)
			added = append(added, ep)
		}
	}
	if len(added) > 0 {
		env.Log.Warn("kubeadm: the local member does not answer; trying the other control-plane nodes of --initial-cluster: {endpoints} (give --endpoints to choose)", "endpoints", strings.Join(added, ","))
	}
}
