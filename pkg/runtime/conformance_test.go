package runtime_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/runtime/runtimetest"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupEtcdpilot()
	os.Exit(code)
}

// hooks drive a sandbox's processes through etcdpilot sandbox proc, the
// way a host's systemctl would.
func hooks(t *testing.T, sb *sandbox.Sandbox) *runtime.Command {
	self := fmt.Sprintf("%s --state-dir %s", testutil.Etcdpilot(t), rootOf(sb))
	return &runtime.Command{
		InstallCmd: self + " etcd install {version}",
		StopCmd:    self + " sandbox proc stop {name} --name " + sb.Name,
		StartCmd:   self + " sandbox proc start {name} --name " + sb.Name + " --version={version}",
		Log:        testutil.Logger(t),
	}
}

// rootOf is the state directory the sandbox lives in.
func rootOf(sb *sandbox.Sandbox) string { return sb.Dir[:len(sb.Dir)-len("/sandboxes/"+sb.Name)] }

func target(t *testing.T, rt runtime.Runtime, sb *sandbox.Sandbox) runtimetest.Target {
	st, _ := sb.State()
	c := st.Conn()
	c.CommandTimeout = 2 * time.Second
	return runtimetest.Target{Runtime: rt, Session: testutil.Session(t, c), From: testutil.V35, To: testutil.V36}
}

// TestCommandConformance: the command runtime, its hooks run here.
func TestCommandConformance(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	rt := hooks(t, sb)
	testutil.Must(t, rt.Validate())
	runtimetest.Run(t, target(t, rt, sb))
}

// TestCommandOverSSHConformance: the command runtime, its hooks run on the
// member's "host" through a real sshd.
func TestCommandOverSSHConformance(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35, testutil.V36)
	sshTarget, port, opts := testutil.SSHD(t)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	rt := hooks(t, sb)
	var hosts []string
	rt.Exec = func(member, host string) hostexec.Executor {
		hosts = append(hosts, member)
		return hostexec.SSH{Target: sshTarget, Port: port, Options: opts, Timeout: time.Minute}
	}
	runtimetest.Run(t, target(t, rt, sb))
	if len(hosts) == 0 {
		t.Error("no hook ran over SSH")
	}
}
