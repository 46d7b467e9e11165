package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := New(&b, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("restart m1 on 3.6.16 ...", "member", "m1")
	l.Debug("hidden")
	l.Warn("endpoint http://root:s3cret@h:1 is slow")
	if got := b.String(); got != "restart m1 on 3.6.16 ...\nwarning: endpoint http://root:REDACTED@h:1 is slow\n" {
		t.Errorf("text: %q", got)
	}
	b.Reset()
	l, _ = New(&b, "debug", "json")
	l.Debug("dial", "endpoint", "http://root:s3cret@h:1")
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["level"] != "DEBUG" || strings.Contains(b.String(), "s3cret") {
		t.Errorf("json: %v %s", err, b.String())
	}
	if _, err := New(&b, "loud", "text"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := New(&b, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
	b.Reset()
	l, _ = New(&b, "info", "text")
	w := Writer(l, 0)
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\n"))
	if b.String() != "one\ntwo\n" {
		t.Errorf("writer: %q", b.String())
	}
}

// A message is a template: people read it filled in; JSON gets it filled
// in and every attribute as a field.
func TestTemplates(t *testing.T) {
	var b bytes.Buffer
	l, _ := New(&b, "info", "text")
	l.With("change", "upgrade").Info("leadership moved from {from} to {to} ({change}, {unknown})", "from", "m1", "to", "m2")
	if got := b.String(); got != "leadership moved from m1 to m2 (upgrade, {unknown})\n" {
		t.Errorf("text: %q", got)
	}
	b.Reset()
	l, _ = New(&b, "info", "json")
	l.Info("{member} is down ({took})", "member", "m1", "took", 1500*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["msg"] != "m1 is down (1.5s)" || rec["member"] != "m1" || rec["took"] != float64(1500*time.Millisecond) {
		t.Errorf("json: %v %s", err, b.String())
	}
}
