// Package testutil gives tests real etcd binaries and sandboxes. Binaries
// come from the shared etcdpilot cache (built once per machine and reused
// by every test package and CI run); sandboxes live in the test's temporary
// directory and are torn down when the test ends.
package testutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// Versions used across the tests.
const (
	V34    = "3.4.23" // Debian's etcd-server
	V35Old = "3.5.20"
	// V35Learner persists learner promotions to the v2store only
	// (etcd-io/etcd#19557, 3.5.1-3.5.19).
	V35Learner = "3.5.19"
	V35        = "3.5.36"
	V36        = "3.6.17"
	V37        = "3.7.3"
)

var installMu sync.Mutex

// Binaries returns a manager on the shared cache that has the versions
// installed (building them from module source when needed). 3.4.23 must
// have been imported before (make etcd-binaries does it from Debian).
func Binaries(t T, versions ...string) *binaries.Manager {
	t.Helper()
	SkipShort(t)
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	m := &binaries.Manager{CacheDir: binaries.DefaultCacheDir(), Out: os.Stderr, Known: cat.Versions}
	installMu.Lock()
	defer installMu.Unlock()
	for _, v := range versions {
		if _, err := m.Get(v); err == nil {
			continue
		}
		if strings.HasPrefix(v, "3.4.") {
			t.Fatalf("etcd %s is not in the cache %s: run `make etcd-binaries` (it imports Debian's etcd-server %s)", v, m.CacheDir, V34)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		_, err := m.Install(ctx, v, binaries.Options{})
		cancel()
		if err != nil {
			t.Fatalf("install etcd %s: %v", v, err)
		}
	}
	m.Out = nil
	return m
}

// SkipShort skips a test that needs real etcd members under go test -short
// (make unit runs the pure-logic tests only).
func SkipShort(t T) {
	t.Helper()
	if testing.Testing() && testing.Short() {
		t.Skip("needs real etcd binaries (skipped by -short)")
	}
}

// Root returns a fresh sandbox state root for the test. Paths stay short.
func Root(t T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ep-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Sandbox starts a sandbox for the test and destroys it at the end. The
// binaries of every version in opts are installed first.
func Sandbox(t T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	vs := opts.Versions
	if len(vs) == 0 {
		vs = []string{sandbox.DefaultVersion}
	}
	bins := Binaries(t, vs...)
	root := Root(t)
	if opts.Name == "" {
		opts.Name = "t"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Create(ctx, root, bins, opts, Logger(t))
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, sb)
		}
		sb.Destroy(context.Background())
	})
	// Every member answering is not yet a settled cluster: a member that
	// just started may not know the cluster version (a mixed sandbox under
	// load reads as degraded for a moment).
	if st, err := sb.State(); err == nil {
		if s, err := cluster.Open(st.Conn(), nil); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := s.WaitHealthy(ctx, time.Minute)
			cancel()
			s.Close()
			Must(t, err, "sandbox healthy")
		}
	}
	return sb
}

func dumpLogs(t T, sb *sandbox.Sandbox) {
	st, err := sb.State()
	if err != nil {
		return
	}
	for _, m := range st.Members {
		t.Logf("--- last log lines of %s (%s):\n%s", m.Name, filepath.Base(m.LogFile), sandbox.LogTail(m.LogFile, 20))
	}
}

// Writer writes into the test's log, line by line.
func Writer(t T) io.Writer { return testWriter{t} }

type testWriter struct{ t T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger is a debug-level logger into the test's log.
func Logger(t T) *slog.Logger {
	l, err := logging.New(testWriter{t}, "debug", "text")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Context returns a context that ends with the test or after d.
func Context(t T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually retries fn until it returns nil or the timeout passes.
func Eventually(t T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %v", timeout, err)
}

// Must fails the test on err.
func Must(t T, err error, what ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprint(what...), err)
	}
}

// Session opens a session with the cluster (logging into the test's log),
// closed when the test ends.
func Session(t T, c conn.Config) *cluster.Session {
	t.Helper()
	s, err := cluster.Open(c, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TreeText is every file under dir with its mode and content: compare two
// to prove a refused command wrote nothing.
func TreeText(t T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				return rerr
			}
			fmt.Fprintf(&sb, "%s %o %s\n", p, info.Mode(), b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// T is what the helpers need of a test: testing.TB satisfies it, and so
// does the runner the static-pod benchmark drives the Kubernetes harness
// with (bench upgrade --runtime static-pod).
type T interface {
	Helper()
	Cleanup(func())
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Log(args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	Skip(args ...any)
}
