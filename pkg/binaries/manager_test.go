package binaries

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeTool is a shell script that answers --version like etcd does.
func fakeTool(v string) []byte {
	return []byte(fmt.Sprintf("#!/bin/sh\necho 'etcd Version: %s'\necho 'Git SHA: fake'\n", v))
}

func buildTarball(t *testing.T, cv string, tools ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	dir := "etcd-" + cv + "-linux-amd64/"
	for _, name := range append([]string{"README.md"}, tools...) {
		body := fakeTool(strings.TrimPrefix(cv, "v"))
		if err := tw.WriteHeader(&tar.Header{Name: dir + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

type releaseServer struct {
	*httptest.Server
	tarballs atomic.Int32
}

// newReleaseServer serves a release directory for cv; when corrupt is set
// the tarball does not match SHA256SUMS.
func newReleaseServer(t *testing.T, cv string, corrupt bool, tools ...string) *releaseServer {
	tarball := buildTarball(t, cv, tools...)
	sum := sha256.Sum256(tarball)
	sums := fmt.Sprintf("%s  %s\n%s  other.zip\n", hex.EncodeToString(sum[:]), TarballName(cv), strings.Repeat("0", 64))
	served := tarball
	if corrupt {
		served = append([]byte{}, tarball...)
		served[len(served)/2] ^= 0xff
	}
	rs := &releaseServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + cv + "/SHA256SUMS":
			w.Write([]byte(sums))
		case "/" + cv + "/" + TarballName(cv):
			rs.tarballs.Add(1)
			w.Write(served)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(rs.Close)
	return rs
}

func TestInstallFromRelease(t *testing.T) {
	rs := newReleaseServer(t, "v3.5.35", false, "etcd", "etcdctl", "etcdutl")
	m := &Manager{CacheDir: t.TempDir(), Mirror: rs.URL}
	in, err := m.Install(context.Background(), "3.5.35", Options{Source: SourceRelease})
	if err != nil {
		t.Fatal(err)
	}
	if in.Version != "v3.5.35" || len(in.Tools) != 3 || in.SHA256 == "" {
		t.Fatalf("install: %+v", in)
	}
	for _, tool := range Tools {
		p, err := in.Bin(tool)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("%s not executable: %v", p, err)
		}
	}
	// A second install reuses the cache without downloading.
	if _, err := m.Install(context.Background(), "v3.5.35", Options{Source: SourceRelease}); err != nil {
		t.Fatal(err)
	}
	if n := rs.tarballs.Load(); n != 1 {
		t.Fatalf("tarball fetched %d times, want 1", n)
	}
	list, err := m.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %v %v", list, err)
	}
}

func TestInstallRefusesChecksumMismatch(t *testing.T) {
	rs := newReleaseServer(t, "v3.5.35", true, "etcd", "etcdctl", "etcdutl")
	cache := t.TempDir()
	m := &Manager{CacheDir: cache, Mirror: rs.URL}
	_, err := m.Install(context.Background(), "3.5.35", Options{Source: SourceAuto})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("want checksum error, got %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "etcd"))
	if len(entries) != 0 {
		t.Fatalf("cache changed by a refused install: %v", entries)
	}
	if _, err := m.Get("3.5.35"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Get after refused install: %v", err)
	}
}

func TestRelease34HasNoEtcdutl(t *testing.T) {
	rs := newReleaseServer(t, "v3.4.23", false, "etcd", "etcdctl")
	m := &Manager{CacheDir: t.TempDir(), Mirror: rs.URL}
	in, err := m.Install(context.Background(), "3.4.23", Options{Source: SourceRelease})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Bin("etcdutl"); err == nil {
		t.Fatal("3.4 install should have no etcdutl")
	}
}

func TestConcurrentInstallsShareOneDownload(t *testing.T) {
	rs := newReleaseServer(t, "v3.6.16", false, "etcd", "etcdctl", "etcdutl")
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := &Manager{CacheDir: cache, Mirror: rs.URL}
			_, errs[i] = m.Install(context.Background(), "3.6.16", Options{Source: SourceRelease})
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rs.tarballs.Load(); n != 1 {
		t.Fatalf("tarball fetched %d times, want 1", n)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "etcd"))
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want 1: %v", len(entries), entries)
	}
}

func TestInstallFromDir(t *testing.T) {
	src := t.TempDir()
	for _, tool := range []string{"etcd", "etcdctl"} {
		os.WriteFile(filepath.Join(src, tool), fakeTool("3.4.23"), 0o755)
	}
	m := &Manager{CacheDir: t.TempDir()}
	in, err := m.Install(context.Background(), "3.4.23", Options{Source: SourceDir, Dir: src})
	if err != nil {
		t.Fatal(err)
	}
	if in.Source != SourceDir || len(in.Tools) != 2 {
		t.Fatalf("%+v", in)
	}
	// A directory holding another version is refused.
	if _, err := m.Install(context.Background(), "3.4.22", Options{Source: SourceDir, Dir: src}); err == nil || !strings.Contains(err.Error(), "reports version 3.4.23") {
		t.Fatalf("want version mismatch, got %v", err)
	}
	if _, err := m.Install(context.Background(), "3.4.23", Options{Source: SourceDir, Dir: filepath.Join(src, "nope"), Force: true}); err == nil {
		t.Fatal("missing dir accepted")
	}
}

func TestUnknownVersionNamesNearest(t *testing.T) {
	known := []string{"3.5.33", "3.5.34", "3.5.35", "3.6.15", "3.6.16"}
	m := &Manager{CacheDir: t.TempDir(), Known: func() []string { return known }}
	_, err := m.Install(context.Background(), "3.5.36", Options{})
	if err == nil || !strings.Contains(err.Error(), "3.5.35") {
		t.Fatalf("want error naming 3.5.35, got %v", err)
	}
	_, err = m.Install(context.Background(), "3.5.x", Options{})
	if err == nil || !strings.Contains(err.Error(), "not a version") {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := m.Install(context.Background(), "3.3.27", Options{}); err == nil {
		t.Fatal("3.3 accepted")
	}
}

func TestSourceRefuses34(t *testing.T) {
	m := &Manager{CacheDir: t.TempDir()}
	_, err := m.Install(context.Background(), "3.4.23", Options{Source: SourceBuild})
	if err == nil || !strings.Contains(err.Error(), "--source dir") {
		t.Fatalf("got %v", err)
	}
}

func TestNearest(t *testing.T) {
	got := Nearest([]string{"3.4.45", "3.5.20", "3.5.21", "3.5.35", "3.6.0", "3.6.16"}, "3.5.22", 3)
	if strings.Join(got, ",") != "3.5.20,3.5.21,3.5.35" {
		t.Fatalf("got %v", got)
	}
}
