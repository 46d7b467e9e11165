package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPortClaims: a port claimed by one sandbox is not handed to another
// while the first exists (its member may be stopped, its port unbound);
// once the first sandbox is gone, the claim is stale and taken over.
func TestPortClaims(t *testing.T) {
	old := portRegistry
	portRegistry = filepath.Join(t.TempDir(), "ports")
	t.Cleanup(func() { portRegistry = old })
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	port, err := newPortSet(a).next()
	if err != nil {
		t.Fatal(err)
	}
	if claimPort(port, b) {
		t.Fatalf("port %d of a live sandbox handed to another", port)
	}
	if !claimPort(port+1, b) {
		t.Fatalf("a free port refused")
	}
	os.RemoveAll(a)
	if !claimPort(port, b) {
		t.Fatalf("the claim of a removed sandbox is not taken over")
	}
	releasePorts(b, map[int]bool{port: true})
	if _, err := os.Stat(filepath.Join(portRegistry, strconv.Itoa(port))); !os.IsNotExist(err) {
		t.Fatalf("released claim still there: %v", err)
	}
	releasePorts(b, nil)
	if left, _ := os.ReadDir(portRegistry); len(left) != 0 {
		t.Fatalf("claims left: %v", left)
	}
}
