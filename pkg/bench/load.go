package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
)

// LoadOptions say what Load writes.
type LoadOptions struct {
	Keys      int
	ValueSize int
	Prefix    string
	Title     string // progress line (default "writing N keys")
}

// Load writes Keys keys of ValueSize bytes under Prefix from 8 writers.
func Load(ctx context.Context, cfg conn.Config, o LoadOptions, out io.Writer) error {
	cli, err := cfg.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	if o.Title == "" {
		o.Title = fmt.Sprintf("writing %d keys", o.Keys)
	}
	val := strings.Repeat("x", o.ValueSize)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	task := progress.Start(out, o.Title)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(o.Keys) {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				_, err := cli.Put(cctx, fmt.Sprintf("%s%06d", o.Prefix, i), val)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	err = <-errs
	task.Done(err)
	return err
}
