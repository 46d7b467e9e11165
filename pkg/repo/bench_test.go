package repo_test

import (
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/repo"
)

// BenchmarkScan50k scans a generated tree of 50,000 files (about 100 MiB).
// bench scan runs the same tree beside ripgrep.
func BenchmarkScan50k(b *testing.B) {
	dir := b.TempDir()
	pins, err := bench.MakeTree(dir, 50000)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := repo.Scan(dir)
		if err != nil {
			b.Fatal(err)
		}
		if r.Files != 50000 || len(r.Pins) != pins {
			b.Fatalf("%d files, %d pins", r.Files, len(r.Pins))
		}
	}
	b.ReportMetric(50000, "files/op")
}
