package conn_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/pki"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestConnectionErrorsSayWhy points clients at real members the wrong way
// (wrong CA, no client certificate, a client certificate from another CA,
// TLS against the plain port and the reverse), at a paused member, at a
// closed port and at a web server that is not etcd, and requires each
// error to name the cause instead of "context deadline exceeded".
func TestConnectionErrorsSayWhy(t *testing.T) {
	t.Parallel()
	secure := testutil.Sandbox(t, sandbox.Options{Name: "tls", Versions: []string{testutil.V36}, TLS: true, Members: 1})
	plain := testutil.Sandbox(t, sandbox.Options{Name: "plain", Versions: []string{testutil.V36}, Members: 1})
	sst, _ := secure.State()
	pst, _ := plain.State()
	good := sst.Conn()
	tlsEP := sst.Members[0].ClientURL
	plainEP := pst.Members[0].ClientURL

	other, err := pki.NewCA(t.TempDir(), "other")
	testutil.Must(t, err)
	otherClient, err := other.Client(filepath.Dir(other.Cert), "stranger")
	testutil.Must(t, err)

	web := &http.Server{Handler: http.NotFoundHandler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()

	cases := []struct {
		name string
		cfg  conn.Config
		want string
	}{
		{"ok", good, ""},
		{"unknown CA", conn.Config{Endpoints: []string{tlsEP}, CACert: other.Cert, Cert: good.Cert, Key: good.Key}, "not signed by the CA in --cacert"},
		{"no CA", conn.Config{Endpoints: []string{tlsEP}, Cert: good.Cert, Key: good.Key}, "authority this machine does not trust"},
		{"no client certificate", conn.Config{Endpoints: []string{tlsEP}, CACert: good.CACert}, "client certificate"},
		{"client certificate from another CA", conn.Config{Endpoints: []string{tlsEP}, CACert: good.CACert, Cert: otherClient.Cert, Key: otherClient.Key}, "did not accept the client certificate"},
		{"plain client, TLS server", conn.Config{Endpoints: []string{strings.Replace(tlsEP, "https://", "http://", 1)}}, "expects TLS"},
		{"TLS client, plain server", conn.Config{Endpoints: []string{strings.Replace(plainEP, "http://", "https://", 1)}, CACert: good.CACert}, "speaks plain HTTP, not TLS"},
		{"connection refused", conn.Config{Endpoints: []string{closedAddr}}, "connection refused"},
		{"not etcd", conn.Config{Endpoints: []string{ln.Addr().String()}}, "not an etcd server"},
	}
	for _, tc := range cases {
		tc.cfg.DialTimeout = time.Second
		p, err := conn.NewPool(tc.cfg)
		testutil.Must(t, err, tc.name)
		ctx := testutil.Context(t, 30*time.Second)
		_, err = p.Client(ctx, tc.cfg.Endpoints[0])
		if err == nil {
			// Some rejections (TLS 1.3 client certificates) could surface
			// only on the first request.
			cli, _ := p.Client(ctx, tc.cfg.Endpoints[0])
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = cli.Get(rctx, "x")
			cancel()
		}
		p.Close()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		default:
			t.Logf("%s: %v", tc.name, err)
		}
	}

	// A paused member: the dial gives up after --dial-timeout, not after
	// the command timeout, and says so.
	ctx := testutil.Context(t, 30*time.Second)
	testutil.Must(t, plain.Pause(ctx, "m1"))
	defer plain.Resume(ctx, "m1")
	p, err := conn.NewPool(conn.Config{Endpoints: []string{plainEP}, DialTimeout: time.Second, CommandTimeout: 10 * time.Second})
	testutil.Must(t, err)
	defer p.Close()
	start := time.Now()
	_, err = p.Client(ctx, plainEP)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "nothing answers within 1s") {
		t.Errorf("paused member: %v", err)
	}
	// Two dial timeouts at most (the dial, then the diagnosis), never the
	// 10 s command timeout.
	if took > 5*time.Second {
		t.Errorf("paused member: the dial took %s with --dial-timeout 1s", took)
	}
}
