package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
)

// Pool holds the clients of one command: one per endpoint, dialled once and
// reused by every request (a member that restarts is reconnected by gRPC),
// one for all endpoints together, and one HTTP client; the TLS files are
// read once, when the pool is made.
type Pool struct {
	cfg  Config
	tls  *tls.Config
	http *http.Client

	mu      sync.Mutex
	clients map[string]*clientv3.Client
	closed  bool
}

// NewPool checks the configuration and reads its TLS files.
func NewPool(c Config) (*Pool, error) {
	if err := c.checkFlags(); err != nil {
		return nil, err
	}
	tlsCfg, err := c.TLS() // the only time the files are read
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: c, tls: tlsCfg, clients: map[string]*clientv3.Client{}}
	p.http = &http.Client{
		Timeout:   c.Timeout(),
		Transport: &http.Transport{TLSClientConfig: tlsCfg, TLSHandshakeTimeout: c.dialTimeout(), MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second},
	}
	return p, nil
}

// TLS is the client TLS configuration read when the pool was made (nil
// for plain http).
func (p *Pool) TLS() *tls.Config { return p.tls }

// Config is the pool's connection configuration.
func (p *Pool) Config() Config { return p.cfg }

// Endpoints are the configured endpoints.
func (p *Pool) Endpoints() []string { return p.cfg.Endpoints }

// HTTP is the HTTP client for /version, /health and /metrics, with the
// pool's TLS settings.
func (p *Pool) HTTP() *http.Client { return p.http }

// URL returns the http(s) URL of an endpoint.
func (p *Pool) URL(ep string) string {
	return strings.TrimRight(clientEndpoint(ep, p.tls != nil), "/")
}

// Client returns the client of one endpoint, dialling it the first time.
// The dial waits up to --dial-timeout; when it fails, the error says why
// (refused, wrong CA, TLS against a plain port, not etcd, ...).
func (p *Pool) Client(ctx context.Context, ep string) (*clientv3.Client, error) {
	return p.get(ctx, ep, []string{ep})
}

// Cluster returns one client balanced over all configured endpoints, for
// requests any member can answer.
func (p *Pool) Cluster(ctx context.Context) (*clientv3.Client, error) {
	return p.get(ctx, "*", p.cfg.Endpoints)
}

func (p *Pool) get(ctx context.Context, key string, eps []string) (*clientv3.Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("connection pool is closed")
	}
	if c, ok := p.clients[key]; ok {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := p.dial(ctx, eps)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.clients[key]; ok { // another goroutine won the race
		c.Close()
		return old, nil
	}
	if p.closed {
		c.Close()
		return nil, fmt.Errorf("connection pool is closed")
	}
	p.clients[key] = c
	return c, nil
}

// dial connects to eps and waits (up to the dial timeout) until one
// answers at the transport level, as etcdctl does.
func (p *Pool) dial(ctx context.Context, eps []string) (*clientv3.Client, error) {
	// Fail at once where nothing listens: gRPC would retry until the timeout.
	if len(eps) == 1 {
		if err := refused(eps[0], p.cfg.dialTimeout()); err != nil {
			return nil, err
		}
	}
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = clientEndpoint(ep, p.tls != nil)
	}
	// The client outlives the request that dials it: its context is its
	// own (clientv3 dials per-endpoint maintenance connections with it
	// later), and the dial is bounded by DialTimeout.
	start := time.Now()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   urls,
		DialTimeout: p.cfg.dialTimeout(),
		TLS:         p.tls,
		Username:    p.cfg.User,
		Password:    p.cfg.Password,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{
			// A member that restarts is back within seconds; gRPC's default
			// reconnect backoff (1 s growing to 120 s) would keep its
			// client failing long after it answers again.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
				MinConnectTimeout: p.cfg.dialTimeout(),
			}),
		},
	})
	if err == nil {
		// Like etcdctl's blocking dial: the connection must be up within
		// --dial-timeout.
		if err = ready(ctx, c.ActiveConnection(), p.cfg.dialTimeout()); err != nil {
			c.Close()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // interrupted: not a connection problem
		}
		if errors.Is(err, rpctypes.ErrAuthFailed) || strings.Contains(err.Error(), rpctypes.ErrAuthFailed.Error()) {
			return nil, fmt.Errorf("%s: authentication failed for user %q: the user or the password is wrong (--user, --password, ETCDCTL_USER, ETCDCTL_PASSWORD)", strings.Join(eps, ","), p.cfg.User)
		}
		if why := Diagnose(ctx, p.cfg, p.tls, eps[0]); why != nil {
			return nil, why
		}
		return nil, fmt.Errorf("%s: no connection within %s (--dial-timeout): %w", strings.Join(eps, ","), time.Since(start).Round(time.Millisecond), err)
	}
	if len(eps) == 1 {
		// clientv3 opens a new connection for every Status, HashKV and
		// Defragment of an endpoint; on a client of that one endpoint its
		// own connection serves them.
		c.Maintenance = clientv3.NewMaintenanceFromMaintenanceClient(clientv3.RetryMaintenanceClient(c, c.ActiveConnection()), c)
	}
	return c, nil
}

// ready waits until the connection is up, or fails after timeout.
func ready(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("connection %s: %w", strings.ToLower(s.String()), ctx.Err())
		}
	}
}

// Close closes every client.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, c := range p.clients {
		c.Close()
		delete(p.clients, k)
	}
	p.http.CloseIdleConnections()
	return nil
}

// Forget closes and drops the client of an endpoint (the member was
// removed, or its address changed).
func (p *Pool) Forget(ep string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[ep]; ok {
		c.Close()
		delete(p.clients, ep)
	}
}

// WithTimeout is a context bounded by the command timeout.
func (p *Pool) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return p.cfg.WithTimeout(ctx)
}

// WithScanTimeout bounds a request that reads a member's whole database
// (HashKV): the command timeout plus a second per 16 MiB of the database,
// so a Kubernetes-sized member (8 GiB: 512 s more) is not cut off by a
// timeout meant for a short request. Measured here: three 4 GiB members
// hashing at once from a shared disk took 104 s; the bound is 261 s.
func (p *Pool) WithScanTimeout(ctx context.Context, dbSize int64) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, ScanTimeout(p.cfg.Timeout(), dbSize))
}

// ScanTimeout is base plus a second per 16 MiB of dbSize.
func ScanTimeout(base time.Duration, dbSize int64) time.Duration {
	return base + time.Duration(dbSize/(16<<20))*time.Second
}
