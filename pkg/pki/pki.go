// Package pki generates the certificates of a TLS sandbox: a CA, one
// server/peer certificate per member (valid for 127.0.0.1 and localhost) and
// a client certificate.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Pair names a certificate and its key on disk.
type Pair struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// CA is a certificate authority that can sign leaf certificates.
type CA struct {
	Cert string `json:"cert"`
	// Validity of the certificates it issues (default ten years); a
	// short one makes a certificate about to expire, for expiry checks.
	Validity time.Duration `json:"-"`
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	keyPath  string
}

const validity = 10 * 365 * 24 * time.Hour

// NewCA creates a CA in dir (ca.crt, ca.key).
func NewCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"etcdpilot"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: filepath.Join(dir, "ca.crt"), cert: cert, key: key, keyPath: filepath.Join(dir, "ca.key")}
	if err := write(ca.Cert, ca.keyPath, der, key); err != nil {
		return nil, err
	}
	return ca, nil
}

func (ca *CA) validity() time.Duration {
	if ca.Validity != 0 {
		return ca.Validity
	}
	return validity
}

// Server issues a certificate usable both as a server and as a client (etcd
// members use one certificate for client and peer traffic).
func (ca *CA) Server(dir, name string, hosts ...string) (Pair, error) {
	return ca.issue(dir, name, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, hosts)
}

// Client issues a client-only certificate.
func (ca *CA) Client(dir, name string) (Pair, error) {
	return ca.issue(dir, name, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
}

func (ca *CA) issue(dir, name string, usage []x509.ExtKeyUsage, hosts []string) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"etcdpilot"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(ca.validity()),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, err
	}
	p := Pair{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
	return p, write(p.Cert, p.Key, der, key)
}

func write(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := fsutil.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", certPath, err)
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// LoadCA reads the CA that NewCA wrote in dir.
func LoadCA(dir string) (*CA, error) {
	ca := &CA{Cert: filepath.Join(dir, "ca.crt"), keyPath: filepath.Join(dir, "ca.key")}
	cb, err := os.ReadFile(ca.Cert)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(ca.keyPath)
	if err != nil {
		return nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, fmt.Errorf("%s: not a PEM CA", dir)
	}
	if ca.cert, err = x509.ParseCertificate(cblock.Bytes); err != nil {
		return nil, err
	}
	if ca.key, err = x509.ParseECPrivateKey(kblock.Bytes); err != nil {
		return nil, err
	}
	return ca, nil
}
