package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/target"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func newStatusCmd(g *globals) *cobra.Command {
	var tf target.Flags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every member: versions, leader, raft indexes, DB size, alarms, learners, hash agreement",
		Long: `Discover all members through the member list and query each in parallel.
Certificates: the CA and client certificate in use, every member's serving
certificates (client and peer URLs, from the TLS handshake) and, with
--sandbox or --kubeadm, the certificate files the members' configuration
names; expiry within 30 days is flagged.

Exit status: 0 when the cluster is healthy, 1 when it is degraded or
unavailable, 2 when no endpoint answers or the input is wrong.`,
		Example: `  etcdpilot status --sandbox default
  etcdpilot status --kubeadm     # on a kubeadm control-plane node
  etcdpilot status --endpoints https://10.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key -w json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := g.open(cmd, tf, target.Connect)
			if err != nil {
				return err
			}
			defer t.Close()
			return showStatus(cmd, g, t.Session, func(cl *status.Cluster) []certs.Cert {
				return g.certificates(cmd, t, cl)
			})
		},
	}
	tf.Register(cmd.Flags(), target.Naming)
	return cmd
}

// showStatus prints the cluster status, with the certificates read by
// certificates when it is not nil, and turns an unhealthy cluster into
// exit status 1.
func showStatus(cmd *cobra.Command, g *globals, s *cluster.Session, certificates func(*status.Cluster) []certs.Cert) error {
	p, err := g.printer(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	cl, err := s.StatusWithHashes(cmd.Context())
	if err != nil {
		return err
	}
	if certificates != nil {
		cl.Certificates = certificates(cl)
		certs.Judge(cl.Certificates, time.Now(), 0)
	}
	if cat, err := g.catalog(); err == nil {
		cl.Advisories = advisories(cat, cl)
	}
	if err := p.Print(cl); err != nil {
		return err
	}
	if cl.Health != status.Healthy {
		return quietNo
	}
	return nil
}

// certificates reads the cluster's certificates, with the member
// configurations of the sandbox or the kubeadm node when there is one.
func (g *globals) certificates(cmd *cobra.Command, t *target.Target, cl *status.Cluster) []certs.Cert {
	configs, rt := g.memberConfigs(cmd, t)
	return t.Session.Certificates(cmd.Context(), cl, configs, rt)
}

// memberConfigs are the member configurations of the sandbox or the
// kubeadm node, with the runtime that reads the files they name; a
// failure to read them is a warning (the certificate files go unread).
func (g *globals) memberConfigs(cmd *cobra.Command, t *target.Target) ([]*memberconfig.Config, runtime.Runtime) {
	configs, err := t.Configs(cmd.Context())
	if err != nil {
		g.log.Warn("certificate files not read", "err", err)
	}
	var rt runtime.Runtime
	if t.Node != nil {
		rt = t.Node.Runtime
	}
	return configs, rt
}

// advisories lists, per version the members run, the known issues and
// CVEs that concern the cluster: the server side, and auth-only CVEs
// only when its auth is not off.
func advisories(cat *catalog.Catalog, cl *status.Cluster) []status.Advisory {
	byVersion := map[string][]string{}
	var order []string
	for _, m := range cl.Members {
		if m.ServerVersion == "" {
			continue
		}
		if _, ok := byVersion[m.ServerVersion]; !ok {
			order = append(order, m.ServerVersion)
		}
		byVersion[m.ServerVersion] = append(byVersion[m.ServerVersion], m.Name)
	}
	scope := catalog.ServerScope(cl.Auth)
	var out []status.Advisory
	for _, v := range order {
		a := status.Advisory{Version: v, Members: byVersion[v], Items: []string{}}
		if latest := cat.LatestPatch(v); latest != "" && version.Compare(v, latest) < 0 {
			a.Newest = latest
		}
		cves, skipped := cat.CVEsFor(v, scope)
		a.NotApplicable = skipped
		for _, c := range cves {
			a.Items = append(a.Items, fmt.Sprintf("%s [%s] %s (fixed in %s)", c.ID, c.Severity, c.Title, orDash(catalog.FixedIn(c.Affected, v))))
		}
		for _, is := range cat.IssuesFor(v, scope) {
			a.Items = append(a.Items, fmt.Sprintf("%s [%s] %s (fixed in %s)", is.ID, is.Severity, is.Title, orDash(catalog.FixedIn(is.Affected, v))))
		}
		if r, ok := cat.Release(v); ok && r.NotesUnknown {
			a.Items = append(a.Items, "its notes are unknown to this etcdpilot: "+catalog.ChangelogLink(version.Minor(v)))
		}
		out = append(out, a)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "no release yet"
	}
	return s
}
