package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree writes n files in nested directories: Go, YAML, Makefiles and
// text of about 2 KiB each, one in fifty with an etcd pin, plus a vendor/
// tree that must be skipped.
func makeTree(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	filler := strings.Repeat("some ordinary line of source code, version 1.2.3 of nothing\n", 32)
	exts := []string{".go", ".yaml", ".md", ".sh", ".json"}
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d/e%02d", i%50, (i/50)%40))
		if i < 50*40 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		body := filler
		if i%50 == 1 {
			body += "image: registry.k8s.io/etcd:3.5.21-0\nETCD_VERSION=3.5.21\n"
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d%s", i, exts[i%len(exts)])), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkScan50k scans a generated tree of 50,000 files (about 100 MiB).
func BenchmarkScan50k(b *testing.B) {
	dir := makeTree(b, 50000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Scan(dir)
		if err != nil {
			b.Fatal(err)
		}
		if r.Files != 50000 || len(r.Pins) != 2000 {
			b.Fatalf("%d files, %d pins", r.Files, len(r.Pins))
		}
	}
	b.ReportMetric(50000, "files/op")
}
