package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

// TestSwapScript: the old data directory goes aside and the staged one
// into its place; when the staged one is missing, the old one is back
// where it was.
func TestSwapScript(t *testing.T) {
	ctx := context.Background()
	d := filepath.Join(t.TempDir(), "data dir")
	tg := Target{Name: "m1", DataDir: d}
	for _, p := range []string{d, restoreTemp(tg, "S")} {
		if err := os.MkdirAll(filepath.Join(p, "member"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "member", "db"), []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := hostexec.Local{}.Run(ctx, swapScript(tg, "S"))
	if err != nil || strings.TrimSpace(out.Stdout) != asideDir(d, "S") {
		t.Fatalf("swap: %q %v", out.Stdout, err)
	}
	if got, _ := os.ReadFile(filepath.Join(d, "member", "db")); string(got) != restoreTemp(tg, "S") {
		t.Fatalf("in place: %q", got)
	}
	// Nothing staged under T: the directory in place stays.
	if _, err := (hostexec.Local{}).Run(ctx, swapScript(tg, "T")); err == nil {
		t.Fatal("a swap without a staged directory succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(d, "member", "db")); string(got) != restoreTemp(tg, "S") {
		t.Fatalf("after a failed swap, in place: %q", got)
	}
	if _, err := os.Stat(asideDir(d, "T")); !os.IsNotExist(err) {
		t.Fatalf("a failed swap left %s: %v", asideDir(d, "T"), err)
	}
}
