package snapshot

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestGatedReader: the reader ends only once the gate says the local
// checks passed; a failed check fails the read, so the upload is aborted.
func TestGatedReader(t *testing.T) {
	ok := make(chan error, 1)
	ok <- nil
	b, err := io.ReadAll(&gatedReader{r: strings.NewReader("snapshot"), gate: ok})
	if err != nil || string(b) != "snapshot" {
		t.Errorf("passed checks: %q %v", b, err)
	}
	bad := make(chan error, 1)
	refused := errors.New("HashKV mismatch")
	bad <- refused
	g := &gatedReader{r: strings.NewReader("snapshot"), gate: bad}
	if _, err := io.ReadAll(g); !errors.Is(err, refused) || g.refused != refused {
		t.Errorf("failed checks: %v, want the check's error", err)
	}
	if _, err := g.Read(make([]byte, 8)); !errors.Is(err, refused) {
		t.Errorf("a read after the refusal: %v", err)
	}
}
