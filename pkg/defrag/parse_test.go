package defrag

import "testing"

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
