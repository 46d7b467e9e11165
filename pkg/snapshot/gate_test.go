package snapshot

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestCommittedReader: the reader ends only once the commit says the
// checks passed; a failed check fails the read, so the upload is aborted.
func TestCommittedReader(t *testing.T) {
	calls := 0
	ok := &committedReader{r: strings.NewReader("snapshot"), commit: func() error { calls++; return nil }}
	b, err := io.ReadAll(ok)
	if err != nil || string(b) != "snapshot" || calls != 1 {
		t.Errorf("passed checks: %q %v, %d commits", b, err, calls)
	}
	refused := errors.New("HashKV mismatch")
	g := &committedReader{r: strings.NewReader("snapshot"), commit: func() error { calls++; return refused }}
	if _, err := io.ReadAll(g); !errors.Is(err, refused) || g.err != refused {
		t.Errorf("failed checks: %v, want the check's error", err)
	}
	if _, err := g.Read(make([]byte, 8)); !errors.Is(err, refused) || calls != 2 {
		t.Errorf("a read after the refusal: %v (%d commits)", err, calls)
	}
}
