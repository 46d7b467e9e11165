package cluster

import (
	"context"

	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/memberconfig"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// Certificates reads every certificate the cluster in cl depends on: the
// session's CA and client certificate, each member's serving certificates
// on its client and peer URLs (from the handshake), and the server and
// peer certificate files its configuration names, read through rt when it
// can read a member's files (static pods over SSH), else on this machine.
// Verdicts are left to the caller (certs.Judge).
func (s *Session) Certificates(ctx context.Context, cl *status.Cluster, configs []*memberconfig.Config, rt runtime.Runtime) []certs.Cert {
	cfg := s.Config()
	src := certs.Source{CACert: cfg.CACert, ClientCert: cfg.Cert, TLS: s.pool.TLS(), Timeout: cfg.DialTimeout}
	for _, m := range cl.Members {
		if m.Endpoint != "" {
			src.URLs = append(src.URLs, certs.Target{Kind: certs.Serving, Member: m.Name, Where: m.Endpoint})
		}
		for _, u := range m.PeerURLs {
			src.URLs = append(src.URLs, certs.Target{Kind: certs.PeerServing, Member: m.Name, Where: u})
		}
	}
	for _, c := range configs {
		for flag, kind := range map[string]string{"cert-file": certs.ServerFile, "peer-cert-file": certs.PeerFile} {
			if v := c.Flags[flag].Value; v != "" {
				src.Files = append(src.Files, certs.Target{Kind: kind, Member: c.Name(), Where: v})
			}
		}
	}
	if fr, ok := rt.(runtime.FileReader); ok {
		src.Read = fr.ReadFile
	}
	return certs.Collect(ctx, src)
}
