package certs

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/pki"
)

// serve answers TLS handshakes with pair until the test ends.
func serve(t *testing.T, pair pki.Pair) string {
	kp, err := tls.LoadX509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{kp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return "https://" + l.Addr().String()
}

func TestCollectAndJudge(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	ca.Validity = 10 * 24 * time.Hour
	soon, err := ca.Server(dir, "soon", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca.Validity = -30 * time.Minute
	expired, err := ca.Server(dir, "expired", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca.Validity = 0
	client, err := ca.Client(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	src := Source{
		CACert: ca.Cert, ClientCert: client.Cert,
		URLs: []Target{
			{Kind: Serving, Member: "m1", Where: serve(t, soon)},
			{Kind: PeerServing, Member: "m1", Where: serve(t, expired)}, // an expired certificate is still read
			{Kind: Serving, Member: "m2", Where: "http://127.0.0.1:1"},  // plain http: nothing to read
			{Kind: Serving, Member: "m3", Where: "https://127.0.0.1:1"}, // nothing listens
		},
		Files: []Target{{Kind: ServerFile, Member: "m1", Where: soon.Cert}, {Kind: PeerFile, Member: "m1", Where: filepath.Join(dir, "missing.crt")}},
	}
	cs := Collect(context.Background(), src)
	now := time.Now()
	Judge(cs, now, 0)
	got := map[string]string{}
	for _, c := range cs {
		got[c.Kind+"/"+c.Member] = c.Verdict
		t.Logf("%s: %s %s %s", c.Describe(), c.Verdict, c.Left(now), c.Error)
	}
	want := map[string]string{
		CA + "/": OK, Client + "/": OK, Serving + "/m1": ExpiresSoon, PeerServing + "/m1": Expired,
		Serving + "/m3": Unknown, ServerFile + "/m1": ExpiresSoon, PeerFile + "/m1": Unknown,
	}
	if len(got) != len(want) {
		t.Errorf("got %d certificates %v, want %v", len(got), got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: verdict %q, want %q", k, got[k], v)
		}
	}
	// The same certificate within the window of a change blocks it.
	Judge(cs, now, 11*24*time.Hour)
	for _, c := range cs {
		if c.Kind == Serving && c.Member == "m1" && c.Verdict != ExpiresInChange {
			t.Errorf("10 days left, an 11-day change: %s, want %s", c.Verdict, ExpiresInChange)
		}
	}
	if cs[0].Kind != CA || cs[1].Kind != Client {
		t.Errorf("order: %s, %s first; want the CA, then the client certificate", cs[0].Kind, cs[1].Kind)
	}
}

func TestHandshakeRefusedIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("not tls\n"))
			c.Close()
		}
	}()
	cs := Collect(context.Background(), Source{URLs: []Target{{Kind: Serving, Member: "m1", Where: "https://" + l.Addr().String()}}})
	if len(cs) != 1 || cs[0].Error == "" {
		t.Fatalf("a server that does not speak TLS: %+v, want an error", cs)
	}
}
