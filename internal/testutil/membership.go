package testutil

import (
	"context"
	"reflect"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/status"
)

// FullStreamFindings is the membership check made the way it was before
// issue 31: every member's whole backend streamed into a file and read
// with bbolt. It also checks that the lookup made from each member's
// stream as it passes (membercheck.FromStream) reads the same backend.
func FullStreamFindings(t interface {
	T
	TempDir() string
}, ctx context.Context, s *cluster.Session, cl *status.Cluster) []membercheck.Finding {
	t.Helper()
	ml, err := status.MemberList(ctx, s.Pool())
	Must(t, err)
	list := membercheck.ListedOf(ml)
	backends := map[string]*membercheck.Backend{}
	for _, m := range cl.Members {
		c, err := s.Pool().Client(ctx, m.Endpoint)
		Must(t, err)
		whole, err := membercheck.FromMember(ctx, c, t.TempDir())
		Must(t, err)
		passing, read, err := membercheck.FromStream(ctx, membercheck.SnapshotOpener(c))
		Must(t, err)
		if !reflect.DeepEqual(whole, passing) {
			t.Errorf("%s: the whole backend holds %+v, the lookup as it streamed found %+v", m.Name, whole, passing)
		}
		t.Logf("%s: the lookup read %d bytes of %d stream(s) of a %d-byte backend", m.Name, read.Bytes, read.Streams, m.DBSize)
		backends[m.Name] = whole
	}
	return membercheck.Compare(list, backends)
}
