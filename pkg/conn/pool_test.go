package conn

import (
	"testing"
	"time"
)

func TestScanTimeout(t *testing.T) {
	for _, c := range []struct {
		size int64
		want time.Duration
	}{{0, 5 * time.Second}, {620 << 20, 43 * time.Second}, {8 << 30, 517 * time.Second}} {
		if got := ScanTimeout(5*time.Second, c.size); got != c.want {
			t.Errorf("%d bytes: %s, want %s", c.size, got, c.want)
		}
	}
}
