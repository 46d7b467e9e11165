package repo

import "testing"

// TestInsertAt: a table's order decides where a new release goes.
func TestInsertAt(t *testing.T) {
	pins := func(vs ...string) []Pin {
		var ps []Pin
		for i, v := range vs {
			ps = append(ps, Pin{Version: v, Line: 10 + i})
		}
		return ps
	}
	for _, c := range []struct {
		ps     []Pin
		target string
		want   int
	}{
		{pins("3.6.9", "3.6.8", "3.5.29"), "3.6.10", 10}, // newest first: on top
		{pins("3.6.9", "3.6.8", "3.5.29"), "3.6.0", 12},  // before the first older
		{pins("3.6.9", "3.6.8"), "3.5.1", 12},            // after all
		{pins("3.5.29", "3.6.8", "3.6.9"), "3.6.10", 13}, // oldest first: at the end
		{pins("3.5.29", "3.6.8", "3.6.9"), "3.6.0", 11},  // after the last older
		{pins("3.6.8", "3.6.9"), "3.5.1", 10},            // before all
		{pins("3.6.8"), "3.6.10", 11},                    // one entry: after it
	} {
		if got := insertAt(c.ps, c.target); got != c.want {
			t.Errorf("%v + %s: line %d, want %d", c.ps, c.target, got, c.want)
		}
	}
}
