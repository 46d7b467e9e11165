package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// olderCatalog writes the compiled-in notes as they were before 3.6.17
// and 3.5.36: what an etcdpilot built before 2026-11-18 knows.
func olderCatalog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../pkg/catalog/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "version: 3.6.17") || strings.Contains(l, "version: 3.5.36") {
			continue
		}
		l = strings.Replace(l, "latest: 3.6.17", "latest: 3.6.16", 1)
		l = strings.Replace(l, "latest: 3.5.36", "latest: 3.5.35", 1)
		l = strings.Replace(l, "fixed: 3.6.17}", "}", 1)
		l = strings.Replace(l, "fixed: 3.5.36}", "}", 1)
		out = append(out, l)
	}
	path := filepath.Join(t.TempDir(), "catalog-2026-11.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCatalogFollowsTheModuleProxy: notes that end before 3.6.17, the
// real module proxy, a cold cache. The release is known, planned to and
// its notes said to be unknown; --offline uses the cache; a proxy that
// answers garbage leaves the compiled-in list with a warning naming it.
func TestCatalogFollowsTheModuleProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the module proxy")
	}
	t.Parallel()
	state := t.TempDir()
	old := olderCatalog(t)
	online := []string{"ETCDPILOT_OFFLINE=0"}

	r := runEnv(t, state, []string{"ETCDPILOT_OFFLINE=1"}, "catalog", "show", "3.6.17", "--catalog", old)
	if r.code != 2 || !strings.Contains(r.stderr, "not a known release") {
		t.Fatalf("offline, cold cache: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, online, "catalog", "show", "3.6.17", "--catalog", old)
	if r.code != 0 || !strings.Contains(r.stdout, "etcd 3.6.17, released 2026-11-18") || !strings.Contains(r.stdout, "notes are unknown") || !strings.Contains(r.stdout, "CHANGELOG-3.6.md") {
		t.Fatalf("catalog show 3.6.17: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, online, "upgrade", "plan", "--from", "3.6.16", "--to", "3.6", "--catalog", old)
	if r.code != 0 || !strings.Contains(r.stdout, "Target 3.6.17") || !strings.Contains(r.stdout, "[notes-unknown] 3.6.17") {
		t.Fatalf("upgrade plan --to 3.6: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The cache now holds the list: --offline knows 3.6.17 and says how
	// fresh the knowledge is.
	r = runEnv(t, state, []string{"ETCDPILOT_OFFLINE=1"}, "catalog", "show", "--catalog", old)
	if r.code != 0 || !strings.Contains(r.stdout, "3.6.17") || !strings.Contains(r.stdout, "not refreshed (--offline)") || !strings.Contains(r.stdout, "reviewed 2026-12-04") {
		t.Fatalf("offline with a cache: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>captive portal</html>"))
	}))
	defer garbage.Close()
	cold := t.TempDir()
	r = runEnv(t, cold, []string{"ETCDPILOT_OFFLINE=0", "GOPROXY=" + garbage.URL}, "upgrade", "plan", "--from", "3.6.10", "--to", "3.6")
	if r.code != 0 || !strings.Contains(r.stderr, garbage.URL) || !strings.Contains(r.stderr, "compiled-in list") || !strings.Contains(r.stdout, "Target 3.6.17") {
		t.Fatalf("a proxy answering garbage: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, cold, []string{"ETCDPILOT_OFFLINE=0", "GOPROXY=" + garbage.URL}, "catalog", "update")
	if r.code != 2 || !strings.Contains(r.stderr, garbage.URL) {
		t.Fatalf("catalog update against garbage: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
