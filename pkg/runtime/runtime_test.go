package runtime

import (
	"reflect"
	"testing"
)

func TestRenameFlags(t *testing.T) {
	in := []string{"--name=m1", "--experimental-initial-corrupt-check=true", "-experimental-compact-hash-check-enabled", "--enable-v2", "true", "--x"}
	got := RenameFlags(in, map[string]string{
		"--experimental-initial-corrupt-check":      "--feature-gates=InitialCorruptCheck",
		"--experimental-compact-hash-check-enabled": "--feature-gates=CompactHashCheck",
		"--enable-v2": "",
	})
	want := []string{"--name=m1", "--feature-gates=InitialCorruptCheck=true", "--feature-gates=CompactHashCheck", "--x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
