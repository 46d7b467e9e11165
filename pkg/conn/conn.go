// Package conn holds etcdctl-style connection settings (--endpoints, --cacert,
// --cert, --key, --user, --password, --dial-timeout, --command-timeout and
// their ETCDCTL_* environment variables) and makes etcd clients from them.
package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/health" // client-side health checking (HealthChecked)
)

// Config is what etcdctl calls its global flags.
type Config struct {
	Endpoints          []string      `json:"endpoints"`
	CACert             string        `json:"cacert,omitempty"`
	Cert               string        `json:"cert,omitempty"`
	Key                string        `json:"key,omitempty"`
	User               string        `json:"user,omitempty"`
	Password           string        `json:"-"` // never written anywhere
	InsecureSkipVerify bool          `json:"insecureSkipTLSVerify,omitempty"`
	DialTimeout        time.Duration `json:"dialTimeout"`
	CommandTimeout     time.Duration `json:"commandTimeout"`
	// HealthChecked makes Client's balancer watch each member's gRPC
	// health service and send nothing to a member that reports
	// NOT_SERVING: with etcd's StopGRPCServiceOnDefrag, the member being
	// defragmented (gRPC client-side health checking, which clientv3 does
	// not turn on by itself, etcd-io/etcd#16276).
	HealthChecked bool `json:"-"`
}

// The clients send no keepalive pings. etcd's server takes any ping on a
// connection without an open stream as a strike (PermitWithoutStream
// false, server/embed/etcd.go) and ends the connection with a GOAWAY
// "too_many_pings" at the third; with etcdctl's keepalive (2 s, which
// gRPC raises to 10 s) a client idle after one request got it after about
// 30 s (TestKeepaliveAsTheServerAccepts, etcd 3.6.17), ending whatever
// stream it held next. A command's requests are bounded by their
// deadlines instead.

// Defaults as in etcdctl.
const (
	DefaultDialTimeout    = 2 * time.Second
	DefaultCommandTimeout = 5 * time.Second
)

func (c Config) dialTimeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return DefaultDialTimeout
}

// Timeout is the per-request timeout (--command-timeout).
func (c Config) Timeout() time.Duration {
	if c.CommandTimeout > 0 {
		return c.CommandTimeout
	}
	return DefaultCommandTimeout
}

// Validate checks the endpoints and flags and reads the TLS files, naming
// the file that is wrong.
func (c Config) Validate() error {
	if err := c.checkFlags(); err != nil {
		return err
	}
	_, err := c.TLS()
	return err
}

// checkFlags checks what needs no file: endpoints and flag pairs.
func (c Config) checkFlags() error {
	if len(c.Endpoints) == 0 {
		return errors.New("no endpoints: pass --endpoints (or set ETCDCTL_ENDPOINTS) or --sandbox NAME")
	}
	for _, ep := range c.Endpoints {
		if _, err := ParseEndpoint(ep); err != nil {
			return err
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("--cert and --key must be given together")
	}
	if c.Password != "" && c.User == "" {
		return errors.New("--password needs --user")
	}
	return nil
}

// readPEM reads a PEM file and checks that its first block is of kind.
func readPEM(path, kind, flag string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", flag, path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || !strings.Contains(block.Type, kind) {
		return nil, fmt.Errorf("%s %s: not a PEM %s file", flag, path, strings.ToLower(kind))
	}
	if kind == "CERTIFICATE" {
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s %s: %v", flag, path, err)
		}
	}
	return b, nil
}

// ParseEndpoint accepts "host:port" or a http(s) URL and returns a URL.
func ParseEndpoint(ep string) (*url.URL, error) {
	s := ep
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("endpoint %q: want host:port or http(s)://host:port", Redact(ep))
	}
	if err := CheckPort(u); err != nil {
		return nil, fmt.Errorf("endpoint %q: %v", Redact(ep), err)
	}
	return u, nil
}

// CheckPort requires a URL's port to be a number from 1 to 65535.
func CheckPort(u *url.URL) error {
	p := u.Port()
	if p == "" {
		return errors.New("no port: give host:port")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is not a port number (1-65535)", p)
	}
	return nil
}

// userinfo matches the user:password@ part of a URL.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*):[^@\s/]*@`)

// Redact hides the password of every URL in s (scheme://user:password@host).
func Redact(s string) string { return userinfo.ReplaceAllString(s, "$1:REDACTED@") }

// TakeCredentials removes user:password@ from the endpoints. When the
// config has no user yet, the first endpoint's credentials become its
// --user and --password; the endpoints themselves never carry them, so no
// message can print them.
func (c *Config) TakeCredentials() {
	for i, ep := range c.Endpoints {
		if !strings.Contains(ep, "@") {
			continue
		}
		bare := !strings.Contains(ep, "://")
		if bare {
			ep = "http://" + ep
		}
		u, err := url.Parse(ep)
		if err != nil || u.User == nil {
			continue
		}
		if c.User == "" {
			c.User = u.User.Username()
			c.Password, _ = u.User.Password()
		}
		u.User = nil
		c.Endpoints[i] = u.String()
		if bare {
			c.Endpoints[i] = u.Host
		}
	}
}

// TLS reads the TLS files and returns the client TLS configuration, or
// nil when no TLS option is set and every endpoint is plain http.
func (c Config) TLS() (*tls.Config, error) {
	useTLS := c.CACert != "" || c.Cert != "" || c.InsecureSkipVerify
	for _, ep := range c.Endpoints {
		if strings.HasPrefix(ep, "https://") {
			useTLS = true
		}
	}
	if !useTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CACert != "" {
		b, err := readPEM(c.CACert, "CERTIFICATE", "--cacert")
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--cacert %s: no certificate in it", c.CACert)
		}
		cfg.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := readPEM(c.Cert, "CERTIFICATE", "--cert")
		if err != nil {
			return nil, err
		}
		key, err := readPEM(c.Key, "PRIVATE KEY", "--key")
		if err != nil {
			return nil, err
		}
		kp, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert %s and --key %s do not form a key pair: %v", c.Cert, c.Key, err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// ForEndpoint returns a copy of the config that talks to one endpoint only.
func (c Config) ForEndpoint(ep string) Config {
	c.Endpoints = []string{ep}
	return c
}

// Client connects to the configured endpoints. It does not block on the
// dial; requests fail after their own timeout when nothing answers.
func (c Config) Client() (*clientv3.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := c.TLS()
	if err != nil {
		return nil, err
	}
	eps := make([]string, len(c.Endpoints))
	for i, ep := range c.Endpoints {
		eps[i] = clientEndpoint(ep, tlsCfg != nil)
	}
	return clientv3.New(clientv3.Config{
		Endpoints:        eps,
		DialTimeout:      c.dialTimeout(),
		TLS:              tlsCfg,
		Username:         c.User,
		Password:         c.Password,
		Logger:           zap.NewNop(),
		DialOptions:      c.dialOptions(),
		AutoSyncInterval: 0,
		RejectOldCluster: false,
	})
}

// healthChecked is clientv3's round-robin service config with gRPC
// client-side health checking on the server's overall status.
const healthChecked = `{"loadBalancingPolicy":"round_robin","healthCheckConfig":{"serviceName":""}}`

func (c Config) dialOptions() []grpc.DialOption {
	if !c.HealthChecked {
		return nil
	}
	// clientv3's resolver brings its own service config (round robin
	// alone); it is set aside for the same one with health checking.
	return []grpc.DialOption{grpc.WithDisableServiceConfig(), grpc.WithDefaultServiceConfig(healthChecked)}
}

// clientEndpoint gives a host:port endpoint the scheme that matches TLS.
func clientEndpoint(ep string, useTLS bool) string {
	if strings.Contains(ep, "://") {
		return ep
	}
	if useTLS {
		return "https://" + ep
	}
	return "http://" + ep
}

// WithTimeout is a context bounded by the command timeout.
func (c Config) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.Timeout())
}
