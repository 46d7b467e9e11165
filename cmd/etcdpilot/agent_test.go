package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// TestAgentBadConfig: a configuration with an unknown key or a bad
// schedule is refused with its line before anything starts.
func TestAgentBadConfig(t *testing.T) {
	t.Parallel()
	state := testutil.Root(t)
	for text, want := range map[string]string{
		"backups:\n  - schedule: \"@every 1m\"\n    store: /b\n    keep: {lasts: 3}\n": "line 4: field lasts not found",
		"checks:\n  schedule: \"every minute\"\n":                                      "line 2: schedule",
		// A fleet names its clusters in the file: one on the command line too is ambiguous.
		"clusters:\n  - name: a\n    endpoints: [http://127.0.0.1:1]\n    checks: {schedule: \"@every 5s\"}\n": "--sandbox names a cluster, and",
	} {
		p := filepath.Join(t.TempDir(), "agent.yaml")
		testutil.Must(t, os.WriteFile(p, []byte(text), 0o600))
		if r := run(t, state, "agent", "--config", p, "--sandbox", "none"); r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%q: %d %s", text, r.code, r.stderr)
		}
	}
}
