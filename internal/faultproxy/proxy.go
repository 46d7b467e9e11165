// Package faultproxy is a TCP proxy for fault injection in tests: put one
// in front of an etcd member's client port, advertise its address, and it
// can drop the replies (the request still reaches etcd, the client never
// hears back) or delay traffic — by real sockets, not mocks.
package faultproxy

import (
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from its address to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	dropUntil time.Time
	armedAt   time.Time
	threshold int
	sent      map[net.Conn]int       // client → target bytes, by client conn
	born      map[net.Conn]time.Time // when each client conn was accepted
	delay     time.Duration
	conns     map[net.Conn]bool
	dropped   map[net.Conn]bool
	closed    bool
}

// New starts a proxy on a free port of 127.0.0.1 forwarding to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, dropped: map[net.Conn]bool{},
		sent: map[net.Conn]int{}, born: map[net.Conn]time.Time{}}
	go p.accept()
	return p, nil
}

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplies discards everything the target sends for d: requests still
// arrive. Afterwards the connections that lost bytes are closed (their
// streams are broken), and new ones work again.
func (p *Proxy) DropReplies(d time.Duration) { p.DropRepliesAfter(d, 0) }

// DropRepliesAfter is DropReplies for clients that connect during the
// window too: on a new connection, replies pass until the client has sent
// more than requestBytes (its HTTP/2 preface and settings), so that its
// connection comes up and its request reaches the target.
func (p *Proxy) DropRepliesAfter(d time.Duration, requestBytes int) {
	p.mu.Lock()
	p.armedAt, p.dropUntil, p.threshold = time.Now(), time.Now().Add(d), requestBytes
	p.mu.Unlock()
	time.AfterFunc(d, p.closeDropped)
}

// Delay holds every chunk of traffic for d (0 to stop).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return p.ln.Close()
}

func (p *Proxy) closeDropped() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.dropped {
		c.Close()
	}
	p.dropped = map[net.Conn]bool{}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.closed {
		return false
	}
	if on {
		p.conns[c] = true
		if _, ok := p.born[c]; !ok {
			p.born[c] = time.Now()
		}
	} else {
		delete(p.conns, c)
		delete(p.dropped, c)
		delete(p.sent, c)
		delete(p.born, c)
	}
	return true
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, true) || !p.track(server, true) {
		client.Close()
		server.Close()
		return
	}
	defer p.track(client, false)
	defer p.track(server, false)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client, client, false); server.Close() }()
	go func() { defer wg.Done(); p.pipe(client, server, client, true); client.Close() }()
	wg.Wait()
}

// pipe copies src to dst; reply says whether this is target → client.
func (p *Proxy) pipe(dst, src, client net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if !reply {
				p.sent[client] += n
			}
			drop := reply && time.Now().Before(p.dropUntil) &&
				(p.born[client].Before(p.armedAt) || p.sent[client] > p.threshold)
			if drop {
				p.dropped[dst] = true
			}
			delay := p.delay
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay)
			}
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF or a closed connection
		}
	}
}
