package defrag

import (
	"strings"
	"testing"
)

func TestParseThresholds(t *testing.T) {
	for in, want := range map[string]int64{"200MiB": 200 << 20, "1.5GiB": 3 << 29, "500MB": 500e6, "4096B": 4096, " 1 KiB ": 1024} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"45", "", "MiB", "-1MiB", "2TiB", "ten MiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
	if f, err := Fragmentation("45%"); err != nil || f != 45 {
		t.Errorf("Fragmentation(45%%) = %v, %v", f, err)
	}
	for _, in := range []string{"45", "101%", "-1%", "x%"} {
		if _, err := Fragmentation(in); err == nil {
			t.Errorf("Fragmentation(%q) accepted", in)
		}
	}
}

// Issue 27: a negative size says it is negative, not that the unit is
// missing.
func TestParseBytesNegative(t *testing.T) {
	if _, err := ParseBytes("-5MiB"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("-5MiB: %v", err)
	}
	if _, err := Fragmentation("120%"); err == nil || !strings.Contains(err.Error(), "outside 0% to 100%") {
		t.Errorf("120%%: %v", err)
	}
}
