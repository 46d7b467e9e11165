package testutil

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// Fragment leaves at least 2 MiB of free pages in every member's
// database: it writes 4 MiB, deletes it and compacts, then writes until
// every member shows the pages free (bbolt frees compacted pages for good
// at a later write transaction).
func Fragment(t T, s *cluster.Session) {
	t.Helper()
	ctx := Context(t, 2*time.Minute)
	cli, err := s.Pool().Cluster(ctx)
	Must(t, err)
	value := strings.Repeat("x", 64<<10)
	for i := 0; i < 64; i++ {
		_, err := cli.Put(ctx, fmt.Sprintf("/fill/%d", i), value)
		Must(t, err)
	}
	resp, err := cli.Delete(ctx, "/fill/", clientv3.WithPrefix())
	Must(t, err)
	_, err = cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	Must(t, err)
	Eventually(t, time.Minute, func() error {
		if _, err := cli.Put(ctx, "/tick", "x"); err != nil {
			return err
		}
		cl, err := s.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range cl.Members {
			if m.DBSize-m.DBSizeInUse < 2<<20 {
				return fmt.Errorf("%s: %d bytes free", m.Name, m.DBSize-m.DBSizeInUse)
			}
		}
		return nil
	})
}

// CompactHead compacts the cluster at its current revision and returns
// it, as kube-apiserver compacts (the member that answers has finished).
func CompactHead(t T, c conn.Config) int64 {
	t.Helper()
	ctx := Context(t, time.Minute)
	cli, err := c.Client()
	Must(t, err)
	defer cli.Close()
	resp, err := cli.Get(ctx, "\x00")
	Must(t, err)
	_, err = cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	Must(t, err)
	return resp.Header.Revision
}

// LockHolder is the process holding a flock on path, read from
// /proc/locks without touching the lock (0: none).
func LockHolder(path string) int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	suffix := fmt.Sprintf(":%d", st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 00:2f:123456 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) >= 6 && fs[1] == "FLOCK" && strings.HasSuffix(fs[5], suffix) {
			if pid, err := strconv.Atoi(fs[4]); err == nil {
				return pid
			}
		}
	}
	return 0
}
