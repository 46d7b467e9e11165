package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// SnapshotS3Result holds the save times into a local directory and into
// object storage, for the same database.
type SnapshotS3Result struct {
	Location     string
	SnapshotSize int64
	Local, S3    []time.Duration
}

// SnapshotS3 fills a sandbox and times etcdpilot's save into a local
// directory against its save into location (s3://bucket/prefix/: the same
// stream and checks, then the multipart upload), alternating the order;
// the uploaded snapshots are deleted again.
func SnapshotS3(ctx context.Context, o SnapshotOptions, location string) (*SnapshotS3Result, error) {
	store, err := snapshot.OpenStore(ctx, location)
	if err != nil {
		return nil, err
	}
	sb, sess, err := o.filled(ctx, "bench-s3")
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	defer sess.Close()
	res := &SnapshotS3Result{Location: location}
	log := logging.OrDiscard(o.Log)
	for run := 0; run < o.Runs; run++ {
		sides := []func() error{
			func() error {
				p := filepath.Join(o.Scratch, fmt.Sprintf("local-%d.db", run))
				start := time.Now()
				sc, _, err := snapshot.Save(ctx, sess, p, snapshot.SaveOptions{})
				if err != nil {
					return err
				}
				res.Local, res.SnapshotSize = append(res.Local, time.Since(start)), sc.Size
				os.Remove(snapshot.SidecarPath(p))
				return os.Remove(p)
			},
			func() error {
				start := time.Now()
				_, path, err := snapshot.Save(ctx, sess, location, snapshot.SaveOptions{})
				if err != nil {
					return err
				}
				res.S3 = append(res.S3, time.Since(start))
				return store.Delete(ctx, filepath.Base(path))
			},
		}
		if run%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return nil, err
			}
		}
		log.Info(fmt.Sprintf("run %d: local %s, s3 %s", run+1, ms(last(res.Local)), ms(last(res.S3))))
	}
	return res, nil
}

// Table writes both throughputs and their ratio.
func (r *SnapshotS3Result) Table(w io.Writer) error {
	size := r.SnapshotSize
	fmt.Fprintf(w, "etcdpilot snapshot save of %s, median of %d runs each\n", progress.Bytes(size), len(r.Local))
	local, s3 := mbps(size, median(r.Local)), mbps(size, median(r.S3))
	return printer.Table(w, [][]string{
		{"", "LOCAL DIRECTORY", "MB/s", r.Location, "MB/s", "RATIO (s3/local)"},
		{"save", ms(median(r.Local)), fmt.Sprintf("%.0f", local), ms(median(r.S3)), fmt.Sprintf("%.0f", s3), fmt.Sprintf("%.2fx", s3/local)},
	})
}
