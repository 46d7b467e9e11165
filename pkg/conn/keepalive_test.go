package conn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/grpclog"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestKeepaliveAsTheServerAccepts: a connection of the pool used once,
// left idle for 45 s, then holding a watch: etcd never ends it with a
// GOAWAY "too_many_pings". It did, after about 30 s, while the client sent
// keepalive pings (issue 31): etcd counts a ping on a connection without
// a stream as a strike, and the third ends the connection.
func TestKeepaliveAsTheServerAccepts(t *testing.T) {
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	logs := &testutil.SyncBuffer{}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(logs, logs, logs, 2))
	p, err := conn.NewPool(st.Conn())
	testutil.Must(t, err)
	defer p.Close()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := p.Cluster(ctx)
	testutil.Must(t, err)
	_, err = cli.Get(ctx, "/keepalive")
	testutil.Must(t, err)
	time.Sleep(45 * time.Second)
	wctx, wcancel := context.WithTimeout(ctx, 12*time.Second)
	defer wcancel()
	w := cli.Watch(wctx, "/keepalive")
	for range w {
	}
	if strings.Contains(logs.String(), "too_many_pings") {
		t.Fatalf("etcd answered the pings with too_many_pings:\n%s", grepLines(logs.String(), "too_many_pings"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
