package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogTail: only the last start counts; a usage error keeps its first
// lines; a panic shows the panic and its first frames, not the last
// goroutines' stacks.
func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m1.log")
	var b strings.Builder
	b.WriteString("old start line\n" + startMarker + " x\n")
	for i := 0; i < 5; i++ {
		b.WriteString("info line\n")
	}
	b.WriteString("panic: unmarshal should never fail [recovered]\n\tpanic: execute job failed\n")
	for i := 0; i < 40; i++ {
		b.WriteString("\tgo.etcd.io/frame.go:1\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got := LogTail(path, 4)
	want := "panic: unmarshal should never fail [recovered]\n\tpanic: execute job failed\n\tgo.etcd.io/frame.go:1\n\tgo.etcd.io/frame.go:1\n..."
	if got != want {
		t.Errorf("panic tail:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	b.WriteString(startMarker + " x\nflag provided but not defined: -x\nUsage:\n  etcd [flags]\n")
	for i := 0; i < 20; i++ {
		b.WriteString("  --flag\n")
	}
	b.WriteString("last\n")
	os.WriteFile(path, []byte(b.String()), 0o600)
	got = LogTail(path, 2)
	if want := "flag provided but not defined: -x\nUsage:\n  etcd [flags]\n...\n  --flag\nlast"; got != want {
		t.Errorf("usage tail:\n%s\nwant:\n%s", got, want)
	}
}
