package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Etcdpilot builds the etcdpilot command once per test process and
// returns its path (removed when the process exits is left to the OS's
// temporary directory cleanup; the file lives under one os.MkdirTemp).
func Etcdpilot(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "etcdpilot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "etcdpilot")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/etcdpilot")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build etcdpilot: %v: %s", buildErr, builtBin)
	}
	return builtBin
}

// CleanupEtcdpilot removes the binary Etcdpilot built; call it from
// TestMain after the tests.
func CleanupEtcdpilot() {
	if builtBin != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(builtBin))
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
