package conn

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// refused fails at once when nothing listens at the endpoint (or the name
// does not resolve), with the reason; nil means something answered the
// TCP connection, or the attempt ran out of time (left to the dial).
func refused(ep string, timeout time.Duration) error {
	u, err := ParseEndpoint(ep)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err == nil {
		c.Close()
		return nil
	}
	return tcpReason(u.Host, err, timeout, true)
}

func tcpReason(host string, err error, timeout time.Duration, quiet bool) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: connection refused: nothing listens there (is etcd running, is the port its client port?)", host)
	case errors.As(err, &dns):
		return fmt.Errorf("%s: cannot resolve %s: %v", host, dns.Name, dns.Err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Errorf("%s: host unreachable: %v", host, err)
	case quiet:
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: no TCP connection within %s (--dial-timeout): the host is down or a firewall drops the packets", host, timeout)
	}
	return fmt.Errorf("%s: %v", host, err)
}

// Diagnose finds out why an endpoint cannot be used, speaking to it the
// way the client would: TCP, then TLS when the configuration asks for it,
// then GET /version. It returns nil when the endpoint looks like a working
// etcd (the failure lies elsewhere).
func Diagnose(ctx context.Context, cfg Config, tlsCfg *tls.Config, ep string) error {
	u, err := ParseEndpoint(ep)
	if err != nil {
		return err
	}
	timeout := cfg.dialTimeout()
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return tcpReason(u.Host, err, timeout, false)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(timeout))
	var c net.Conn = raw
	if tlsCfg != nil {
		tc := tls.Client(raw, serverName(tlsCfg, u.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			if closedEarly(err) && speaksHTTP(ctx, u.Host, timeout) {
				return plainNotTLS(u.Host)
			}
			return tlsReason(u.Host, cfg, err, timeout)
		}
		c = tc
	}
	fmt.Fprintf(c, "GET /version HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.Host)
	br := bufio.NewReader(c)
	first, err := br.Peek(5)
	if len(first) > 0 && first[0] == 0x15 && tlsCfg == nil {
		// A TLS alert record: the server speaks TLS.
		return fmt.Errorf("%s expects TLS: use https:// with --cacert (and --cert/--key if it asks for a client certificate)", u.Host)
	}
	if err != nil && len(first) == 0 {
		if tlsCfg != nil {
			return tlsReason(u.Host, cfg, err, timeout)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("%s: TCP connects but nothing answers within %s (--dial-timeout): is the process paused or overloaded, or not an etcd server?", u.Host, timeout)
		}
		if closedEarly(err) {
			if speaksTLS(ctx, u.Host, timeout) {
				return fmt.Errorf("%s expects TLS: use https:// with --cacert (and --cert/--key if it asks for a client certificate)", u.Host)
			}
			return fmt.Errorf("%s closed the connection without an answer: not an etcd client port?", u.Host)
		}
		return fmt.Errorf("%s: %v", u.Host, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("%s does not speak HTTP: not an etcd client port (%v)", u.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), "HTTPS") {
		return fmt.Errorf("%s expects TLS: use https:// with --cacert (and --cert/--key if it asks for a client certificate)", u.Host)
	}
	var v struct {
		Server string `json:"etcdserver"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Server == "" {
		return fmt.Errorf("%s is not an etcd server: GET /version answered %q", u.Host, resp.Status)
	}
	return nil
}

func plainNotTLS(host string) error {
	return fmt.Errorf("%s speaks plain HTTP, not TLS: use http:// and drop the TLS flags, or point at the member's TLS port", host)
}

// closedEarly reports a connection the server closed or reset.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// speaksTLS reports whether host completes a TLS handshake (any
// certificate accepted: this only asks which protocol it speaks).
func speaksTLS(ctx context.Context, host string, timeout time.Duration) bool {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		// A server that asks for a client certificate may end the
		// handshake with an alert: that is TLS too.
		var alert tls.AlertError
		return errors.As(err, &alert) || strings.Contains(err.Error(), "certificate")
	}
	c.Close()
	return true
}

// speaksHTTP reports whether host answers a plain GET /version.
func speaksHTTP(ctx context.Context, host string, timeout time.Duration) bool {
	hc := &http.Client{Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/version", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// serverName sets the name to verify when the configuration has none.
func serverName(c *tls.Config, host string) *tls.Config {
	if c.ServerName != "" {
		return c
	}
	c = c.Clone()
	c.ServerName = host
	return c
}

// tlsReason turns a TLS failure into what to do about it.
func tlsReason(host string, cfg Config, err error, timeout time.Duration) error {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &rh) || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return plainNotTLS(host)
	case errors.As(err, &ua):
		if cfg.CACert == "" {
			return fmt.Errorf("%s: the server's certificate is signed by an authority this machine does not trust: pass --cacert with the CA that signed it", host)
		}
		return fmt.Errorf("%s: the server's certificate is not signed by the CA in --cacert %s: pass the CA that signed it", host, cfg.CACert)
	case errors.As(err, &hn):
		return fmt.Errorf("%s: the server's certificate is not valid for this address (%v): connect by a name or IP in its certificate", host, hn.Error())
	case errors.As(err, &ci):
		return fmt.Errorf("%s: the server's certificate is unusable: %v", host, ci.Error())
	case strings.Contains(msg, "certificate required") && cfg.Cert != "":
		// Go sends a client certificate only when it is signed by one of
		// the CAs the server names; otherwise none.
		return fmt.Errorf("%s did not accept the client certificate %s: it is not signed by a CA the server trusts", host, cfg.Cert)
	case strings.Contains(msg, "certificate required"):
		return fmt.Errorf("%s requires a client certificate: pass --cert and --key", host)
	case errors.As(err, &alert) || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority"):
		if cfg.Cert == "" {
			return fmt.Errorf("%s refused the TLS connection (%v): it may require a client certificate: pass --cert and --key", host, err)
		}
		return fmt.Errorf("%s rejected the client certificate %s (%v): use one signed by a CA the server trusts", host, cfg.Cert, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: TCP connects but no TLS answer within %s (--dial-timeout): is the process paused or overloaded?", host, timeout)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%s closed the TLS connection: it may not speak TLS, or may reject the client certificate", host)
	}
	return fmt.Errorf("%s: TLS: %v", host, err)
}
