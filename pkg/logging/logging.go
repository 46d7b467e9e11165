// Package logging makes etcdpilot's levelled logger (log/slog): JSON lines
// for machines (--log-format json), or plain lines for people (text), on
// stderr, with passwords in URLs redacted either way.
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("text" or "json").
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	w = redactor{w}
	switch format {
	case "text", "":
		return slog.New(&console{w: w, level: lv, mu: &sync.Mutex{}}), nil
	case "json":
		return slog.New(&templated{h: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})}), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// OrDiscard returns l, or a logger that drops everything when l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return Discard()
	}
	return l
}

// redactor hides passwords in URLs before anything is written.
type redactor struct{ w io.Writer }

func (r redactor) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("@")) {
		if _, err := io.WriteString(r.w, conn.Redact(string(p))); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return r.w.Write(p)
}

// console writes a record as people read it: the message alone at info,
// its {key} placeholders filled (the attributes are for --log-format json), "warning: ..." and
// "error: ..." above it, and the attributes too at debug.
type console struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (c *console) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }

func (c *console) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	msg := r.Message
	if strings.Contains(msg, "{") {
		msg = render(msg, recordAttrs(c.attrs, r))
	}
	b.WriteString(msg)
	if r.Level < slog.LevelInfo {
		write := func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		}
		for _, a := range c.attrs {
			write(a)
		}
		r.Attrs(write)
	}
	b.WriteByte('\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, b.String())
	return err
}

func (c *console) WithAttrs(as []slog.Attr) slog.Handler {
	n := *c
	n.attrs = append(append([]slog.Attr(nil), c.attrs...), as...)
	return &n
}

func (c *console) WithGroup(string) slog.Handler { return c }

// Writer adapts a logger to code that writes lines (a subprocess's
// output): every line becomes one record at level.
func Writer(l *slog.Logger, level slog.Level) io.Writer {
	return &lineWriter{l: l, level: level}
}

type lineWriter struct {
	l     *slog.Logger
	level slog.Level
	mu    sync.Mutex
	buf   []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := strings.TrimRight(string(w.buf[:i]), "\r"); line != "" {
			w.l.Log(context.Background(), w.level, line)
		}
		w.buf = w.buf[i+1:]
	}
}
