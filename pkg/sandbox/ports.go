package sandbox

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Ports are drawn at random below Linux's ephemeral range (32768+), so that
// the kernel does not hand the same port to an outgoing connection between
// the check and etcd's bind; a busy port is skipped.
const (
	portLow  = 20000
	portHigh = 32000
)

type portSet struct{ used map[int]bool }

func newPortSet() *portSet { return &portSet{used: map[int]bool{}} }

func (p *portSet) next() (int, error) {
	for i := 0; i < 200; i++ {
		port := portLow + rand.IntN(portHigh-portLow)
		if p.used[port] || !portFree(port) {
			continue
		}
		p.used[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port found in %d-%d", portLow, portHigh)
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
