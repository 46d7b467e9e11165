package version

import "testing"

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{"3.5.35": "v3.5.35", "v3.6.16": "v3.6.16", " 3.7.3 ": "v3.7.3", "3.8.0-alpha.0": "v3.8.0-alpha.0"} {
		got, err := Canonical(in)
		if err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "3.5", "x", "3.5.x", "3..5"} {
		if _, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q) succeeded, want error", bad)
		}
	}
}

func TestCompareAndMinor(t *testing.T) {
	if Compare("3.5.9", "v3.5.10") >= 0 {
		t.Error("3.5.9 should sort before 3.5.10")
	}
	if Minor("v3.6.16") != "3.6" || NextMinor("3.6") != "3.7" || MinorIndex("3.7.3") != 7 {
		t.Error("minor helpers")
	}
	if !IsMinor("3.6") || IsMinor("3.6.1") || !IsPrerelease("3.8.0-alpha.0") {
		t.Error("IsMinor/IsPrerelease")
	}
}
