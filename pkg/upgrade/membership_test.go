package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// onHost is a sandbox whose members' hosts are reached through an
// executor (here, a real sshd), as static pods over SSH are.
type onHost struct {
	*sandbox.Sandbox
	ex hostexec.Executor
}

func (o onHost) Host(string) hostexec.Executor { return o.ex }

// junkDB names, for every member, a data directory whose backend is not
// a bbolt file.
type junkDB struct {
	*sandbox.Sandbox
	dir string
}

func (j junkDB) DataDir(context.Context, string) (string, error) { return j.dir, nil }

// live35 starts 3 members of 3.5 and returns a session to them, a
// context and their status.
func live35(t *testing.T) (*sandbox.Sandbox, *cluster.Session, context.Context, *status.Cluster) {
	t.Helper()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 3, Versions: []string{testutil.V35}})
	st, _ := sb.State()
	s := testutil.Session(t, st.Conn())
	ctx := testutil.Context(t, 2*time.Minute)
	cl, err := s.Status(ctx)
	testutil.Must(t, err)
	return sb, s, ctx, cl
}

// TestMembershipFromPages: the membership read from the live members'
// backend pages through a real sshd (dd, block by block), and from their
// streams as they pass, is what the whole streamed backends say, for a
// few KiB per member; a backend file
// the page reader cannot read is named, and streamed instead, with the
// same findings.
func TestMembershipFromPages(t *testing.T) {
	t.Parallel()
	target, port, opts := testutil.SSHD(t)
	sb, s, ctx, cl := live35(t)
	streamed, err := Membership(ctx, s, cl, nil, t.TempDir(), testutil.Logger(t))
	testutil.Must(t, err)
	if whole := testutil.FullStreamFindings(t, ctx, s, cl); !reflect.DeepEqual(whole, streamed) {
		t.Errorf("from the whole backends %+v, as they streamed %+v", whole, streamed)
	}

	var log testutil.SyncBuffer
	l, err := logging.New(&log, "info", "text")
	testutil.Must(t, err)
	ssh := hostexec.SSH{Target: target, Port: port, Options: opts, Timeout: time.Minute}
	pages, err := Membership(ctx, s, cl, onHost{sb, ssh}, t.TempDir(), l)
	testutil.Must(t, err)
	if n := strings.Count(log.String(), "(ssh "+target); n != 3 || strings.Contains(log.String(), "streaming it instead") || !reflect.DeepEqual(pages, streamed) {
		t.Errorf("%d members read over SSH: %+v, streamed %+v\n%s", n, pages, streamed, log.String())
	}

	dir := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "member", "snap"), 0o700))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "member", "snap", "db"), []byte(strings.Repeat("not bbolt", 1000)), 0o600))
	var junkLog testutil.SyncBuffer
	if l, err = logging.New(&junkLog, "info", "text"); err != nil {
		t.Fatal(err)
	}
	fallback, err := Membership(ctx, s, cl, junkDB{sb, dir}, t.TempDir(), l)
	testutil.Must(t, err)
	if strings.Count(junkLog.String(), "(local): no valid bbolt meta page); streaming it instead") != 3 || !reflect.DeepEqual(fallback, streamed) {
		t.Errorf("fallback: %+v, streamed %+v\n%s", fallback, streamed, junkLog.String())
	}
}

// TestMembershipNamesAMemberItCannotRead: a member killed (SIGKILL)
// after the status and before its backend is streamed is named, with
// why, as a backend not read; the others are read, and the check is
// never reported clean. A member the status already found unreachable is
// named the same way.
func TestMembershipNamesAMemberItCannotRead(t *testing.T) {
	t.Parallel()
	sb, s, ctx, cl := live35(t)
	testutil.Must(t, sb.Kill(ctx, "m2"))
	var err error
	for _, when := range []string{"killed after the status", "unreachable in the status"} {
		if when == "unreachable in the status" {
			cl, err = s.Status(ctx)
			testutil.Must(t, err)
		}
		findings, err := Membership(ctx, s, cl, nil, t.TempDir(), testutil.Logger(t))
		testutil.Must(t, err)
		if len(findings) != 1 || findings[0].Kind != membercheck.Unread || findings[0].Name != "m2" || findings[0].Error == "" {
			t.Fatalf("%s: findings %+v", when, findings)
		}
		t.Logf("%s: %s", when, findings[0].Message())
	}
}
