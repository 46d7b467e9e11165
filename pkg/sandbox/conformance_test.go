package sandbox_test

import (
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/runtime/runtimetest"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestConformance: the sandbox passes the runtime conformance suite.
func TestConformance(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	st, _ := sb.State()
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	runtimetest.Run(t, runtimetest.Target{Runtime: sb, Session: testutil.Session(t, c), From: testutil.V35, To: testutil.V36})
}
