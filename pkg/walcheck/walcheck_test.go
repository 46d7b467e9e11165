package walcheck

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestSegments: real WALs of 3.5 and 3.7 members read; a segment of
// random bytes is named as not a WAL segment (issue 27: it was reported
// as a missing snapshot, or a missing snap directory).
func TestSegments(t *testing.T) {
	for _, v := range []string{testutil.V35, testutil.V37} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{v}})
			st, _ := sb.State()
			r, err := Check(st.Members[0].DataDir, "")
			if err != nil || r.Entries == 0 || r.Commit == 0 {
				t.Fatalf("%s: %+v %v", v, r, err)
			}
		})
	}
	dir := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "member", "wal"), 0o700))
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "member", "wal", "0000000000000000-0000000000000000.wal"), junk, 0o600))
	if _, err := Check(dir, ""); err == nil || !strings.Contains(err.Error(), "is not an etcd WAL segment") {
		t.Fatalf("random bytes: %v", err)
	}
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "member", "snap"), 0o700))
	if _, err := Check(dir, ""); err == nil || !strings.Contains(err.Error(), "is not an etcd WAL segment") {
		t.Fatalf("random bytes beside a snap directory: %v", err)
	}
}
