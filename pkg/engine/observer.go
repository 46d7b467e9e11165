package engine

import (
	"log/slog"
)

// Observer sees every journal entry as it is made. An error from an
// observer stops the change (the journal's own write failing must).
type Observer interface {
	Observe(e Entry) error
}

// ObserverFunc adapts a function that cannot fail.
type ObserverFunc func(e Entry)

// Observe calls f.
func (f ObserverFunc) Observe(e Entry) error {
	f(e)
	return nil
}

// Progress logs each step as it starts, ends or fails.
type Progress struct{ Log *slog.Logger }

// Observe logs one entry.
func (p Progress) Observe(e Entry) error {
	attrs := []any{"step", e.Step, "status", e.Status}
	if e.Member != "" {
		attrs = append(attrs, "member", e.Member, "version", e.Version)
	}
	switch e.Status {
	case Started:
		if e.Action != "" {
			p.Log.Info(e.Step+" ...", attrs...)
		}
	case Failed:
		p.Log.Warn(e.Step+" failed: {detail}", append(attrs, "detail", e.Detail)...)
	case Done:
		p.Log.Debug(e.Step+" done ({detail})", append(attrs, "detail", e.Detail)...)
	default:
		p.Log.Debug(e.Step+": {status} {detail}", append(attrs, "status", string(e.Status), "detail", e.Detail)...)
	}
	return nil
}
