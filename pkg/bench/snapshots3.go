package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// SnapshotS3Result holds, per run, the wall time and client CPU time of
// three ways to put a snapshot into object storage: etcdpilot's save
// (stream, checks, upload in one pass), the by-hand way (etcdctl
// snapshot save to a file, then a plain upload of it), and the plain
// upload alone of the same bytes with aws-sdk-go-v2's transfer manager
// (its defaults) to the same server. On a machine that also runs the S3
// server the wall time is largely the server's: the client's CPU is what
// compares.
type SnapshotS3Result struct {
	Location     string
	SnapshotSize int64
	// Save is etcdpilot's; Etcdctl is etcdctl snapshot save's (the child
	// process's CPU); Status is etcdutl snapshot status's on that file (the
	// same bbolt walk and hash etcdpilot's save checks); Plain is the
	// upload of etcdctl's file.
	Save, Etcdctl, Status, Plain []Sample
}

// Sample is one run of one side.
type Sample struct {
	Wall, CPU time.Duration
}

// SnapshotS3 fills a sandbox, then alternates etcdpilot's save into
// location (s3://bucket/prefix/) with etcdctl snapshot save followed by a
// plain upload of its file; every uploaded object is deleted again.
func SnapshotS3(ctx context.Context, o SnapshotOptions, location string) (*SnapshotS3Result, error) {
	store, err := o.Stores.Open(ctx, location, false)
	if err != nil {
		return nil, err
	}
	if _, local := store.(snapshot.LocalFiles); local {
		return nil, fmt.Errorf("--s3 %q: give s3://BUCKET/PREFIX/", location)
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
	plain, err := plainClient(ctx, o.Stores.S3)
	if err != nil {
		return nil, err
	}
	etcdctl, err := tool(ctx, o.Binaries, o.Version, "etcdctl")
	if err != nil {
		return nil, err
	}
	etcdutl, err := tool(ctx, o.Binaries, o.Version, "etcdutl")
	if err != nil {
		return nil, err
	}
	sb, sess, err := o.filled(ctx, "bench-s3")
	if err != nil {
		return nil, err
	}
	defer sb.Destroy(context.Background())
	defer sess.Close()
	st, err := sb.State()
	if err != nil {
		return nil, err
	}
	ep := st.Members[0].Endpoint()
	res := &SnapshotS3Result{Location: location}
	log := logging.OrDiscard(o.Log)
	for run := 0; run < o.Runs; run++ {
		sides := []func() error{
			func() error {
				s, path, err := measure("save", func() (string, error) {
					_, path, err := snapshot.Save(ctx, sess, location, snapshot.SaveOptions{Stores: o.Stores})
					return path, err
				})
				if err != nil {
					return err
				}
				res.Save = append(res.Save, s)
				return store.Delete(ctx, filepath.Base(path))
			},
			func() error {
				file := filepath.Join(o.Scratch, fmt.Sprintf("etcdctl-%d.db", run))
				defer os.Remove(file)
				s, err := child(ctx, etcdctl, "--endpoints", ep, "snapshot", "save", file)
				if err != nil {
					return err
				}
				res.Etcdctl = append(res.Etcdctl, s)
				if s, err = child(ctx, etcdutl, "snapshot", "status", file); err != nil {
					return err
				}
				res.Status = append(res.Status, s)
				if fi, err := os.Stat(file); err == nil {
					res.SnapshotSize = fi.Size()
				}
				key := fmt.Sprintf("%splain-%d.db", prefix, run)
				s, _, err = measure("upload", func() (string, error) {
					f, err := os.Open(file)
					if err != nil {
						return "", err
					}
					defer f.Close()
					_, err = transfermanager.New(plain).UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f})
					return "", err
				})
				if err != nil {
					return fmt.Errorf("plain upload: %w", err)
				}
				res.Plain = append(res.Plain, s)
				_, err = plain.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				return err
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
		log.Info("run {run}: save {save} (CPU {saveCPU}); etcdctl {etcdctl} (CPU {etcdctlCPU}) + plain upload {upload} (CPU {uploadCPU})", "run", run+1,
			"save", ms(res.Save[run].Wall), "saveCPU", ms(res.Save[run].CPU), "etcdctl", ms(res.Etcdctl[run].Wall), "etcdctlCPU", ms(res.Etcdctl[run].CPU), "upload", ms(res.Plain[run].Wall), "uploadCPU", ms(res.Plain[run].CPU))
	}
	return res, nil
}

// child runs a tool and returns its wall time and its own CPU time.
func child(ctx context.Context, tool string, args ...string) (Sample, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, tool, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return Sample{}, fmt.Errorf("%s %s: %v: %s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return Sample{Wall: time.Since(start), CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// plainClient is an S3 client as the SDK makes it, on the same endpoint.
func plainClient(ctx context.Context, o snapshot.S3Options) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = so.UsePathStyle || o.PathStyle
	}), nil
}

// measure runs f and returns its wall time and this process's CPU time
// (user and system) meanwhile. Its goroutines carry the profiler label
// bench=NAME (go tool pprof -tagfocus bench=save with --cpu-profile).
func measure(name string, f func() (string, error)) (s Sample, out string, err error) {
	before, start := cpuTime(), time.Now()
	pprof.Do(context.Background(), pprof.Labels("bench", name), func(context.Context) { out, err = f() })
	return Sample{Wall: time.Since(start), CPU: cpuTime() - before}, out, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Table writes each way's wall time and client CPU per GiB, and the
// ratios of etcdpilot's save to the by-hand way and to the upload alone.
func (r *SnapshotS3Result) Table(w io.Writer) error {
	gib := float64(r.SnapshotSize) / (1 << 30)
	fmt.Fprintf(w, "%s into %s, median of %d runs each; CPU is the client's (user+system), per GiB of snapshot\n", progress.Bytes(r.SnapshotSize), r.Location, len(r.Save))
	med := func(ss []Sample, cpu bool) time.Duration {
		var ds []time.Duration
		for _, s := range ss {
			if cpu {
				ds = append(ds, s.CPU)
			} else {
				ds = append(ds, s.Wall)
			}
		}
		return median(ds)
	}
	byHand := make([]Sample, len(r.Plain))
	checked := make([]Sample, len(r.Plain))
	for i := range r.Plain {
		byHand[i] = Sample{Wall: r.Etcdctl[i].Wall + r.Plain[i].Wall, CPU: r.Etcdctl[i].CPU + r.Plain[i].CPU}
		checked[i] = Sample{Wall: byHand[i].Wall + r.Status[i].Wall, CPU: byHand[i].CPU + r.Status[i].CPU}
	}
	cpu := func(ss []Sample) float64 { return med(ss, true).Seconds() / gib }
	ratio := func(a, b []Sample) []string {
		return []string{fmt.Sprintf("%.2fx", med(a, false).Seconds()/med(b, false).Seconds()), fmt.Sprintf("%.2fx", cpu(a)/cpu(b))}
	}
	return printer.Table(w, [][]string{
		{"", "WALL", "CPU s/GiB"},
		{"etcdpilot snapshot save (stream, checks, upload)", ms(med(r.Save, false)), fmt.Sprintf("%.2f", cpu(r.Save))},
		{"etcdctl snapshot save + plain upload", ms(med(byHand, false)), fmt.Sprintf("%.2f", cpu(byHand))},
		{"the same + etcdutl snapshot status (the checks the save makes)", ms(med(checked, false)), fmt.Sprintf("%.2f", cpu(checked))},
		{"plain upload alone (aws-sdk-go-v2 transfer manager)", ms(med(r.Plain, false)), fmt.Sprintf("%.2f", cpu(r.Plain))},
		append([]string{"ratio save / (etcdctl + upload)"}, ratio(r.Save, byHand)...),
		append([]string{"ratio save / (etcdctl + etcdutl status + upload)"}, ratio(r.Save, checked)...),
		append([]string{"ratio save / upload alone"}, ratio(r.Save, r.Plain)...),
	})
}
