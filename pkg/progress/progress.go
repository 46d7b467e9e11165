// Package progress shows progress of long work on a terminal or, when the
// output is not a terminal, as occasional plain lines.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Task reports a step of unknown length: its name and elapsed time.
type Task struct {
	w      io.Writer
	tty    bool
	mu     sync.Mutex
	title  string
	name   string
	start  time.Time
	stop   chan struct{}
	done   sync.WaitGroup
	every  time.Duration
	closed bool
}

// Start prints name and keeps showing the elapsed time until Done. A nil or
// io.Discard writer shows nothing.
func Start(w io.Writer, name string) *Task {
	if w == nil {
		w = io.Discard
	}
	t := &Task{w: w, tty: isTerminal(w), title: name, name: name, start: time.Now(), stop: make(chan struct{}), every: 15 * time.Second}
	if t.tty {
		t.every = time.Second
	}
	fmt.Fprintf(w, "%s ...", name)
	if !t.tty {
		fmt.Fprintln(w)
	}
	t.done.Add(1)
	go t.loop()
	return t
}

// Step renames the current step (for example "go build").
func (t *Task) Step(name string) {
	t.mu.Lock()
	t.name = name
	t.mu.Unlock()
	if !t.tty {
		fmt.Fprintf(t.w, "%s ... (%s)\n", name, t.elapsed())
	}
}

func (t *Task) elapsed() string { return time.Since(t.start).Round(time.Second).String() }

func (t *Task) loop() {
	defer t.done.Done()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.mu.Lock()
			if t.tty {
				fmt.Fprintf(t.w, "\r\033[K%s ... %s", t.name, t.elapsed())
			} else {
				fmt.Fprintf(t.w, "%s ... still working (%s)\n", t.name, t.elapsed())
			}
			t.mu.Unlock()
		}
	}
}

// Done stops the display and prints the outcome.
func (t *Task) Done(err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	t.done.Wait()
	prefix := ""
	if t.tty {
		prefix = "\r\033[K"
	}
	if err != nil {
		fmt.Fprintf(t.w, "%s%s: failed after %s\n", prefix, t.title, t.elapsed())
		return
	}
	fmt.Fprintf(t.w, "%s%s: done in %s\n", prefix, t.title, t.elapsed())
}

// Counter counts bytes written through it and shows size and rate.
type Counter struct {
	w     io.Writer
	tty   bool
	label string
	total int64 // 0 when unknown
	n     int64
	start time.Time
	last  time.Time
	mu    sync.Mutex
}

// NewCounter shows progress of label on w; total may be 0 when unknown.
func NewCounter(w io.Writer, label string, total int64) *Counter {
	if w == nil {
		w = io.Discard
	}
	now := time.Now()
	return &Counter{w: w, tty: isTerminal(w), label: label, total: total, start: now, last: now}
}

// Write counts len(p) bytes; it never fails, so it can sit in an io.MultiWriter.
func (c *Counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(len(p))
	every := 5 * time.Second
	if c.tty {
		every = 200 * time.Millisecond
	}
	if now := time.Now(); now.Sub(c.last) >= every {
		c.last = now
		c.print(false)
	}
	return len(p), nil
}

// N returns the bytes counted so far.
func (c *Counter) N() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Finish prints the final figures.
func (c *Counter) Finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.print(true)
}

func (c *Counter) print(final bool) {
	el := time.Since(c.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(c.n) / el
	}
	line := fmt.Sprintf("%s: %s", c.label, Bytes(c.n))
	if c.total > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", Bytes(c.total), c.n*100/c.total)
	}
	line += fmt.Sprintf(", %s/s", Bytes(int64(rate)))
	switch {
	case c.tty && final:
		fmt.Fprintf(c.w, "\r\033[K%s\n", line)
	case c.tty:
		fmt.Fprintf(c.w, "\r\033[K%s", line)
	default:
		fmt.Fprintln(c.w, line)
	}
}

// Bytes formats n bytes in binary units ("12.3 MiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
