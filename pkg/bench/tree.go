package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MakeTree writes n files of about 2 KiB in nested directories (Go, YAML,
// Markdown, shell, JSON), one in fifty with two etcd pins, plus a vendor/
// tree that a scan must skip. It returns how many pins it wrote.
func MakeTree(dir string, n int) (int, error) {
	filler := strings.Repeat("some ordinary line of source code, version 1.2.3 of nothing\n", 32)
	exts := []string{".go", ".yaml", ".md", ".sh", ".json"}
	pins := 0
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d/e%02d", i%50, (i/50)%40))
		if i < 50*40 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return 0, err
			}
		}
		body := filler
		if i%50 == 1 {
			body += "image: registry.k8s.io/etcd:3.5.21-0\nETCD_VERSION=3.5.21\n"
			pins += 2
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d%s", i, exts[i%len(exts)])), []byte(body), 0o644); err != nil {
			return 0, err
		}
	}
	vendor := filepath.Join(dir, "vendor/example.com/lib")
	if err := os.MkdirAll(vendor, 0o755); err != nil {
		return 0, err
	}
	return pins, os.WriteFile(filepath.Join(vendor, "etcd.go"), []byte("const etcdVersion = \"3.4.0\"\n"), 0o644)
}
