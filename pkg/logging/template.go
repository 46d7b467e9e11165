package logging

import (
	"context"
	"log/slog"
	"strings"
)

// Messages are templates: "leadership moved from {from} to {to}" with the
// attributes from and to. People read the message with the values in
// place; --log-format json gets the same rendered message and every
// attribute as its own field, so a record can be filtered by member,
// version or step without parsing its text. A {name} that no attribute
// fills stays as written.

// render fills msg's {key} placeholders from attrs.
func render(msg string, attrs []slog.Attr) string {
	if len(attrs) == 0 {
		return msg
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(msg, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(msg[open:], '}')
		if end < 0 {
			break
		}
		key := msg[open+1 : open+end]
		if v, ok := lookup(attrs, key); ok {
			b.WriteString(msg[:open])
			b.WriteString(v)
		} else {
			b.WriteString(msg[:open+end+1])
		}
		msg = msg[open+end+1:]
	}
	b.WriteString(msg)
	return b.String()
}

func lookup(attrs []slog.Attr, key string) (string, bool) {
	// The record's own attributes come last and win.
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].Key == key {
			return attrs[i].Value.Resolve().String(), true
		}
	}
	return "", false
}

// recordAttrs lists a handler's attributes, then the record's.
func recordAttrs(pre []slog.Attr, r slog.Record) []slog.Attr {
	out := append([]slog.Attr(nil), pre...)
	r.Attrs(func(a slog.Attr) bool {
		out = append(out, a)
		return true
	})
	return out
}

// templated renders a record's message before the handler it wraps
// writes it (the JSON handler).
type templated struct {
	h     slog.Handler
	attrs []slog.Attr
}

func (t *templated) Enabled(ctx context.Context, l slog.Level) bool { return t.h.Enabled(ctx, l) }

func (t *templated) Handle(ctx context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "{") {
		return t.h.Handle(ctx, r)
	}
	msg := render(r.Message, recordAttrs(t.attrs, r))
	if msg == r.Message {
		return t.h.Handle(ctx, r)
	}
	n := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		n.AddAttrs(a)
		return true
	})
	return t.h.Handle(ctx, n)
}

func (t *templated) WithAttrs(as []slog.Attr) slog.Handler {
	return &templated{h: t.h.WithAttrs(as), attrs: append(append([]slog.Attr(nil), t.attrs...), as...)}
}

func (t *templated) WithGroup(name string) slog.Handler {
	return &templated{h: t.h.WithGroup(name), attrs: t.attrs}
}
