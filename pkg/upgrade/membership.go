package upgrade

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/membercheck"
	"github.com/etcdpilot/etcdpilot/pkg/poll"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/status"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// NeedsMembershipCheck says whether a plan to target must compare the
// members' backends with the member list: every member runs 3.5 and the
// target is 3.6 or later.
func NeedsMembershipCheck(cl *status.Cluster, target string) bool {
	if version.Compare(version.Minor(target)+".0", "3.6.0") < 0 {
		return false
	}
	for _, m := range cl.Members {
		if m.Reachable && version.Minor(m.ServerVersion) != "3.5" {
			return false
		}
	}
	return true
}

// Membership reads the membership each reachable member's backend holds
// and compares it with the member list. Where the runtime reaches a
// member's data directory on this machine (sandboxes, static pods on
// this node), it reads the few pages of member/snap/db the lookup needs,
// beside the running member and without its lock; otherwise, or when the
// file cannot be read that way, it reads the same pages from the
// backend's stream (Maintenance.Snapshot) and closes it once it has them,
// one member at a time, each stream bounded by a deadline that follows
// the member's size.
//
// A backend file holds what etcd has committed, and etcd commits its
// batch every --backend-batch-interval (100 ms by default): a membership
// change applied just before the read may not be in the pages yet. So a
// finding made from pages is read again, from a fresh member list, after
// a wait (0.5, 1 and 2 s); only what is still there is reported. A
// promotion that never reached the backend (3.5.1-3.5.19) stays.
func Membership(ctx context.Context, s *cluster.Session, cl *status.Cluster, rt runtime.Runtime, dir string, log *slog.Logger) ([]membercheck.Finding, error) {
	log = logging.OrDiscard(log)
	var findings []membercheck.Finding
	for _, wait := range []time.Duration{0, 500 * time.Millisecond, time.Second, 2 * time.Second} {
		if err := poll.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		var fromFiles bool
		var err error
		findings, fromFiles, err = membershipOnce(ctx, s, cl, rt, dir, log)
		if err != nil || !inconsistent(findings) || !fromFiles {
			return findings, err
		}
		log.Info("the backends' pages disagree with the member list; reading them again in case etcd has not committed the change yet")
	}
	return findings, nil
}

// membershipOnce compares the backends with the member list once; it says
// whether a backend was read from its file's pages.
func membershipOnce(ctx context.Context, s *cluster.Session, cl *status.Cluster, rt runtime.Runtime, dir string, log *slog.Logger) ([]membercheck.Finding, bool, error) {
	ml, err := status.MemberList(ctx, s.Pool())
	if err != nil {
		return nil, false, err
	}
	list := membercheck.ListedOf(ml)
	backends := map[string]*membercheck.Backend{}
	fromFiles := false
	var unread []membercheck.Finding
	for _, m := range cl.Members {
		if !m.Reachable {
			unread = append(unread, membercheck.NotRead(m.Name, m.ID, "not reachable: "+m.Error))
			continue
		}
		b, err := fromPages(ctx, rt, m.Name, log)
		if b == nil {
			if err != nil {
				log.Warn("{member}: the backend's pages could not be read ({error}); streaming it instead", "member", m.Name, "error", err)
			}
			if b, err = fromStream(ctx, s, m, dir, log); err != nil {
				if ctx.Err() != nil {
					return nil, false, fmt.Errorf("read the backend of %s: %w", m.Name, err)
				}
				// A member that died or stalled: named, the check incomplete.
				log.Warn("{member}: the backend could not be read: {error}", "member", m.Name, "error", err)
				unread = append(unread, membercheck.NotRead(m.Name, m.ID, err.Error()))
				continue
			}
		} else {
			fromFiles = true
		}
		backends[m.Name] = b
	}
	return append(membercheck.Compare(list, backends), unread...), fromFiles, nil
}

// inconsistent says whether a finding is a disagreement (not only
// members whose backends could not be read).
func inconsistent(findings []membercheck.Finding) bool {
	for _, f := range findings {
		if f.Kind != membercheck.Unread {
			return true
		}
	}
	return false
}

// fromPages reads a member's membership from its backend file where the
// runtime reaches its data directory (nil, nil where it does not).
func fromPages(ctx context.Context, rt runtime.Runtime, member string, log *slog.Logger) (*membercheck.Backend, error) {
	dd, ok := rt.(runtime.DataDirs)
	if !ok {
		return nil, nil
	}
	dir, err := dd.DataDir(ctx, member)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "member", "snap", "db")
	var r io.ReaderAt
	where := "local"
	if !runtime.Local(rt, member) {
		ex := rt.(runtime.Hosted).Host(member)
		r, where = hostReader{ctx: ctx, ex: ex, path: path}, ex.String()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, read, err := membercheck.ReadPages(r)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", path, where, err)
	}
	log.Info("{member}: membership read from {bytes} bytes of {path} ({where})", "member", member, "bytes", read, "path", path, "where", where)
	return b, nil
}

// hostReader reads a file on a member's host (over SSH) in 512-byte
// blocks with dd, one command per read: the page reader's offsets are
// multiples of the page size.
type hostReader struct {
	ctx  context.Context
	ex   hostexec.Executor
	path string
}

func (h hostReader) ReadAt(p []byte, off int64) (int, error) {
	if off%512 != 0 {
		return 0, fmt.Errorf("read at %d: not on a 512-byte block", off)
	}
	out, err := h.ex.Run(h.ctx, fmt.Sprintf("dd if=%s bs=512 skip=%d count=%d", hostexec.Quote(h.path), off/512, (len(p)+511)/512))
	if err != nil {
		return 0, err
	}
	n := copy(p, out.Stdout)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fromStream reads one member's membership from its streamed backend,
// with a deadline of a minute plus a second for every 10 MiB (10 MiB/s:
// well below what a member sends even from a slow disk). The stream is
// closed as soon as the lookup has its pages; where it cannot be made
// from the stream as it passes, the whole backend is streamed into a
// temporary file under dir, after checking dir can hold it.
func fromStream(ctx context.Context, s *cluster.Session, m status.Member, dir string, log *slog.Logger) (*membercheck.Backend, error) {
	timeout := StreamTimeout(m.DBSize)
	log.Info("reading the membership in {member}'s backend as it streams ({size} bytes at most, up to {timeout}) ...", "member", m.Name, "size", m.DBSize, "timeout", timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := s.Pool().Client(ctx, m.Endpoint)
	if err != nil {
		return nil, err
	}
	// A stream waits for a member that does not answer (until the
	// deadline): ask it for its status first, within the command timeout.
	answers := func() error {
		sctx, cancel := s.Pool().WithTimeout(ctx)
		defer cancel()
		if _, err := c.Status(sctx, m.Endpoint); err != nil {
			if sctx.Err() != nil && ctx.Err() == nil {
				return fmt.Errorf("the member does not answer: no answer within %s (--command-timeout)", s.Pool().Config().Timeout())
			}
			return fmt.Errorf("the member does not answer: %w", err)
		}
		return nil
	}
	if err := answers(); err != nil {
		return nil, err
	}
	b, read, err := membercheck.FromStream(ctx, membercheck.SnapshotOpener(c))
	if err == nil {
		log.Info("{member}: membership read from {bytes} bytes of {streams} stream(s) of its backend", "member", m.Name, "bytes", read.Bytes, "streams", read.Streams)
		return b, nil
	}
	if ctx.Err() != nil {
		return nil, streamErr(ctx, m, timeout, err)
	}
	log.Warn("{member}: the membership could not be read as the backend streamed ({error}); streaming all of it into a file", "member", m.Name, "error", err)
	if aerr := answers(); aerr != nil {
		return nil, fmt.Errorf("%w (its stream broke: %v)", aerr, err)
	}
	if err := fsutil.NeedSpace(dir, m.DBSize, fmt.Sprintf("streaming %s's backend (%d bytes) for the membership check", m.Name, m.DBSize)); err != nil {
		return nil, err
	}
	b, err = membercheck.FromMember(ctx, c, dir)
	if ctx.Err() != nil {
		return nil, streamErr(ctx, m, timeout, err)
	}
	return b, err
}

func streamErr(ctx context.Context, m status.Member, timeout time.Duration, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("the stream of %d bytes did not end within %s: %w", m.DBSize, timeout, err)
	}
	return err
}

// StreamTimeout bounds a stream of a member's whole backend: a minute,
// plus a second per 10 MiB.
func StreamTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(10<<20))*time.Second
}
