package sandbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Ports are drawn at random below Linux's ephemeral range (32768+), so that
// the kernel does not hand the same port to an outgoing connection between
// the check and etcd's bind; a busy port is skipped.
const (
	portLow  = 20000
	portHigh = 32000
)

// A sandbox claims its ports in a registry shared by every sandbox of the
// user on this host, for as long as the sandbox exists: a member that is
// stopped (for an upgrade, a rollback, a kill -9) gets its ports back when
// it starts again, even if another sandbox was created meanwhile. A claim
// whose sandbox directory is gone is stale and taken over.
var portRegistry = filepath.Join(os.TempDir(), fmt.Sprintf("etcdpilot-ports-%d", os.Getuid()))

type portSet struct {
	owner string // the sandbox directory; "" claims nothing
	used  map[int]bool
}

func newPortSet(owner string) *portSet { return &portSet{owner: owner, used: map[int]bool{}} }

func (p *portSet) next() (int, error) {
	for i := 0; i < 200; i++ {
		port := portLow + rand.IntN(portHigh-portLow)
		if p.used[port] || !portFree(port) || !claimPort(port, p.owner) {
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

// claimPort records owner's claim on port; false if a live sandbox holds it.
func claimPort(port int, owner string) bool {
	if owner == "" {
		return true
	}
	if err := os.MkdirAll(portRegistry, 0o700); err != nil {
		return true // no registry: fall back to the bind check alone
	}
	path := filepath.Join(portRegistry, strconv.Itoa(port))
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(owner)
			if cerr := f.Close(); werr != nil || cerr != nil {
				os.Remove(path)
				return false
			}
			return true
		}
		if !errors.Is(err, os.ErrExist) {
			return true
		}
		holder, err := os.ReadFile(path)
		if err != nil || claimLive(path, string(holder)) {
			return false
		}
		os.Remove(path) // stale: its sandbox is gone
	}
	return false
}

// claimLive reports whether the sandbox directory holding a claim exists.
func claimLive(path, holder string) bool {
	if holder == "" { // being written right now, or its writer died
		fi, err := os.Stat(path)
		return err == nil && time.Since(fi.ModTime()) < time.Minute
	}
	_, err := os.Stat(holder)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// releasePorts drops owner's claims on ports (all of them if ports is
// nil) and every stale claim it comes across.
func releasePorts(owner string, ports map[int]bool) {
	entries, err := os.ReadDir(portRegistry)
	if err != nil {
		return
	}
	for _, e := range entries {
		port, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		path := filepath.Join(portRegistry, e.Name())
		holder, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		h := strings.TrimSpace(string(holder))
		mine := h == owner && (ports == nil || ports[port])
		if mine || !claimLive(path, h) {
			os.Remove(path)
		}
	}
}
