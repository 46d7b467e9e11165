package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/pki"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// TestCertificateExpiry: member m2 of a TLS sandbox is restarted with a
// certificate that expires in 10 days (client and peer traffic). status
// reports it among the others, read from the handshakes and from m2's
// files; upgrade plan warns about it, and blocks when the change may take
// longer than the certificate lasts.
func TestCertificateExpiry(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "certs", []string{testutil.V35}, "--tls")
	sb, err := sandbox.Open(state, "certs", testutil.Binaries(t, testutil.V35))
	testutil.Must(t, err)
	ca, err := pki.LoadCA(filepath.Join(sb.Dir, "pki"))
	testutil.Must(t, err)
	ca.Validity = 10 * 24 * time.Hour
	_, err = ca.Server(filepath.Join(sb.Dir, "pki"), "m2", "127.0.0.1", "localhost")
	testutil.Must(t, err)
	ctx := testutil.Context(t, 2*time.Minute)
	testutil.Must(t, sb.Stop(ctx, "m2"))
	testutil.Must(t, sb.Start(ctx, "m2", runtime.StartOptions{}))

	r := run(t, state, "status", "--sandbox", "certs")
	if r.code != 0 || !strings.Contains(r.stdout, "certificates: ") || !strings.Contains(r.stdout, "! member m2's serving certificate") {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("status:\n%s", r.stdout)
	r = run(t, state, "status", "--sandbox", "certs", "-w", "json")
	var cl status.Cluster
	testutil.Must(t, json.Unmarshal([]byte(r.stdout), &cl), r.stdout)
	verdicts := map[string]string{}
	for _, c := range cl.Certificates {
		verdicts[c.Kind+"/"+c.Member] = c.Verdict
	}
	for _, k := range []string{certs.Serving, certs.PeerServing, certs.ServerFile, certs.PeerFile} {
		if verdicts[k+"/m2"] != certs.ExpiresSoon || verdicts[k+"/m1"] != certs.OK {
			t.Errorf("%s: m1 %q, m2 %q; want ok and %s (all verdicts: %v)", k, verdicts[k+"/m1"], verdicts[k+"/m2"], certs.ExpiresSoon, verdicts)
		}
	}
	if verdicts[certs.CA+"/"] != certs.OK || verdicts[certs.Client+"/"] != certs.OK {
		t.Errorf("CA and client: %v", verdicts)
	}

	r = run(t, state, "upgrade", "plan", "--sandbox", "certs", "--to", "3.6", "-w", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "certificate-expires-soon") {
		t.Errorf("plan with the default window: exit %d, want 0 and a warning\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "upgrade", "plan", "--sandbox", "certs", "--to", "3.6", "--window", "240h")
	if r.code != 1 || !strings.Contains(r.stdout, "certificate-expires-during-change") {
		t.Errorf("plan with a 10-day window: exit %d, want 1 and a blocker\n%s%s", r.code, r.stdout, r.stderr)
	}
}
