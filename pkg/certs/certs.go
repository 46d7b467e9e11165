// Package certs reads the expiry of every certificate an etcd cluster
// depends on: the CA and client certificate etcdpilot connects with, each
// member's serving certificates (client and peer URLs, read from the TLS
// handshake) and the certificate files named in the members' configuration,
// and judges them against a warning horizon and the expected length of a
// change.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kinds of certificate.
const (
	CA          = "ca"          // --cacert
	Client      = "client"      // --cert
	Serving     = "serving"     // a member's client URL, from the handshake
	PeerServing = "peer"        // a member's peer URL, from the handshake
	ServerFile  = "server-file" // --cert-file of a member's configuration
	PeerFile    = "peer-file"   // --peer-cert-file
)

// Verdicts.
const (
	OK              = "ok"
	ExpiresSoon     = "expires-soon"
	ExpiresInChange = "expires-during-change"
	Expired         = "expired"
	Unknown         = "unknown"
)

// WarnWithin is how far ahead an expiry is worth a warning.
const WarnWithin = 30 * 24 * time.Hour

// Cert is one certificate and what it means for the cluster.
type Cert struct {
	Kind     string    `json:"kind"`
	Member   string    `json:"member,omitempty"`
	Where    string    `json:"where"`
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	Verdict  string    `json:"verdict"`
	Error    string    `json:"error,omitempty"`
}

// Source says where to look.
type Source struct {
	// CACert and ClientCert are the local files etcdpilot connects with.
	CACert, ClientCert string
	// TLS presents the client certificate in handshakes (some members
	// require one); nil when the cluster is plain http.
	TLS *tls.Config
	// URLs are the members' client and peer URLs by kind (Serving or
	// PeerServing); only https URLs are dialled.
	URLs []Target
	// Files are certificate files named in member configurations.
	Files []Target
	// Read reads a member's file (on its host); nil reads this machine's.
	Read func(ctx context.Context, member, path string) ([]byte, error)
	// Timeout bounds each handshake.
	Timeout time.Duration
}

// Target is a URL or a file of one member.
type Target struct {
	Kind, Member, Where string
}

// Collect reads every certificate of src, in parallel, in a stable order.
// A certificate that cannot be read is listed with its error.
func Collect(ctx context.Context, src Source) []Cert {
	var todo []func() Cert
	for _, f := range []Target{{Kind: CA, Where: src.CACert}, {Kind: Client, Where: src.ClientCert}} {
		if f.Where != "" {
			todo = append(todo, func() Cert { return fromFile(ctx, src, f) })
		}
	}
	for _, u := range src.URLs {
		if strings.HasPrefix(u.Where, "https://") {
			todo = append(todo, func() Cert { return fromHandshake(ctx, src, u) })
		}
	}
	for _, f := range src.Files {
		if f.Where != "" {
			todo = append(todo, func() Cert { return fromFile(ctx, src, f) })
		}
	}
	out := make([]Cert, len(todo))
	var wg sync.WaitGroup
	for i, f := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f()
		}()
	}
	wg.Wait()
	order := map[string]int{CA: 0, Client: 1, Serving: 2, PeerServing: 3, ServerFile: 4, PeerFile: 5}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Member < out[j].Member
	})
	return out
}

func fromFile(ctx context.Context, src Source, t Target) Cert {
	c := Cert{Kind: t.Kind, Member: t.Member, Where: t.Where}
	var data []byte
	var err error
	if t.Member == "" || src.Read == nil {
		data, err = os.ReadFile(t.Where)
	} else {
		data, err = src.Read(ctx, t.Member, t.Where)
	}
	if err == nil {
		var cert *x509.Certificate
		if cert, err = parsePEM(data); err == nil {
			c.fill(cert)
		}
	}
	if err != nil {
		c.Error, c.Verdict = err.Error(), Unknown
	}
	return c
}

// fromHandshake reads the certificate a member serves. Verification is
// left out on purpose: an expired or wrongly issued certificate must still
// be read to be reported.
func fromHandshake(ctx context.Context, src Source, t Target) Cert {
	c := Cert{Kind: t.Kind, Member: t.Member, Where: t.Where}
	cert, err := handshake(ctx, src, t.Where)
	if err != nil {
		c.Error, c.Verdict = err.Error(), Unknown
		return c
	}
	c.fill(cert)
	return c
}

func handshake(ctx context.Context, src Source, raw string) (*x509.Certificate, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname()} // #nosec: reading, not trusting
	if src.TLS != nil {
		cfg.Certificates = src.TLS.Certificates
	}
	timeout := src.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	peer := nc.(*tls.Conn).ConnectionState().PeerCertificates
	if len(peer) == 0 {
		return nil, errors.New("no certificate in the handshake")
	}
	return peer[0], nil
}

func (c *Cert) fill(cert *x509.Certificate) {
	c.Subject = cert.Subject.CommonName
	c.NotAfter = cert.NotAfter.UTC()
}

func parsePEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// Judge sets each certificate's verdict: expired, expiring within window
// (the expected length of the change; 0 for none), within WarnWithin, or ok.
func Judge(cs []Cert, now time.Time, window time.Duration) {
	for i := range cs {
		c := &cs[i]
		switch left := c.NotAfter.Sub(now); {
		case c.Error != "":
			c.Verdict = Unknown
		case left <= 0:
			c.Verdict = Expired
		case window > 0 && left <= window:
			c.Verdict = ExpiresInChange
		case left <= WarnWithin:
			c.Verdict = ExpiresSoon
		default:
			c.Verdict = OK
		}
	}
}

// Describe names a certificate for a person: "member m1's serving
// certificate (https://10.0.0.1:2379)".
func (c Cert) Describe() string {
	what := map[string]string{
		CA: "the CA certificate (--cacert)", Client: "the client certificate (--cert)",
		Serving: "serving certificate", PeerServing: "peer serving certificate",
		ServerFile: "server certificate file", PeerFile: "peer certificate file",
	}[c.Kind]
	if c.Member != "" {
		what = fmt.Sprintf("member %s's %s", c.Member, what)
	}
	return fmt.Sprintf("%s %s", what, c.Where)
}

// Left says how long until expiry, in days or hours.
func (c Cert) Left(now time.Time) string {
	d := c.NotAfter.Sub(now)
	if d <= 0 {
		return fmt.Sprintf("expired %s ago", span(-d))
	}
	return "expires in " + span(d)
}

func span(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return fmt.Sprintf("%d hours", int(d.Hours()))
}
