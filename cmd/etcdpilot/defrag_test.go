package main

import (
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// TestDefragCLI: thresholds without units and unknown leader policies are
// refused before anything is contacted; on a sandbox the plan, the run
// and alarm list go through the printers.
func TestDefragCLI(t *testing.T) {
	t.Parallel()
	state := testutil.Root(t)
	for _, c := range []struct{ args, want string }{
		{"--if-fragmented 45", "give a percentage with its sign"},
		{"--if-free 200", "give a number with its unit"},
		{"--leader sideways", "use hand-off or in-place"},
		{"--compact-keep -1", "0 or more"},
	} {
		r := run(t, state, append([]string{"defrag", "--sandbox", "nope"}, strings.Fields(c.args)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("defrag %s: %d %s", c.args, r.code, r.stderr)
		}
	}

	state = cliSandbox(t, "d", []string{testutil.V36})
	r := run(t, state, "defrag", "--sandbox", "d", "--dry-run", "--if-free", "1GiB")
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing to defragment.") || !strings.Contains(r.stdout, "under --if-free 1.0GiB") {
		t.Errorf("dry run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "defrag", "--sandbox", "d", "--compact")
	if r.code != 0 || !strings.Contains(r.stdout, "Defragmentation: done") || strings.Count(r.stdout, "yes (") != 3 {
		t.Errorf("defrag: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "alarm", "list", "--sandbox", "d"); r.code != 0 || !strings.Contains(r.stdout, "no alarm raised") {
		t.Errorf("alarm list: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
