package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
)

func TestIssuedCertsVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(dir, "m1", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Client(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca.Cert)
	pool.AppendCertsFromPEM(caPEM)
	for _, p := range []Pair{srv, cli} {
		kp, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(kp.Certificate[0])
		usage := x509.ExtKeyUsageClientAuth
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("%s: %v", p.Cert, err)
		}
		if st, _ := os.Stat(p.Key); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", p.Key, st.Mode())
		}
	}
	kp, _ := tls.LoadX509KeyPair(srv.Cert, srv.Key)
	leaf, _ := x509.ParseCertificate(kp.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("server cert for 127.0.0.1: %v", err)
	}
}
