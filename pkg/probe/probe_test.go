package probe

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func at(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }

func TestLinearizableModel(t *testing.T) {
	good := []Op{
		{Write: true, Value: 1, Call: at(0), Return: at(10)},
		{Value: 1, Call: at(11), Return: at(12)},
		{Write: true, Value: 2, Call: at(20), Return: at(30), Err: errors.New("timeout"), Unknown: true},
		{Value: 2, Call: at(40), Return: at(41)}, // the unknown write happened
		{Write: true, Value: 3, Call: at(50), Return: at(60)},
		{Value: 3, Call: at(55), Return: at(58)}, // overlaps the write
	}
	if ok, note := Linearizable(good); !ok {
		t.Fatalf("good history rejected: %s", note)
	}
	stale := []Op{
		{Write: true, Value: 1, Call: at(0), Return: at(10)},
		{Write: true, Value: 2, Call: at(20), Return: at(30)},
		{Value: 1, Call: at(40), Return: at(41)}, // reads an overwritten value
	}
	if ok, _ := Linearizable(stale); ok {
		t.Fatal("stale read accepted")
	}
}

func TestSummarize(t *testing.T) {
	ops := []Op{
		{Write: true, Value: 1, Call: at(0), Return: at(5)},
		{Write: true, Value: 2, Call: at(5), Return: at(10)},
		{Write: true, Value: 3, Call: at(10), Return: at(300)},
		{Write: true, Value: 4, Call: at(300), Return: at(310), Err: errors.New("x"), Unknown: true},
		{Write: true, Value: 5, Call: at(310), Return: at(315)},
	}
	r := summarize(ops, time.Second)
	if r.Writes != 5 || r.FailedWrites != 1 || r.LongestGap != 290*time.Millisecond || r.Max != 290*time.Millisecond {
		t.Fatalf("%+v", r)
	}
	// The last write hangs 7 s and fails: that is the longest stall.
	ops = append(ops, Op{Write: true, Value: 6, Call: at(320), Return: at(7320), Err: errors.New("request timed out"), Unknown: true})
	r = summarize(ops, 8*time.Second)
	if r.LongestGap != 7005*time.Millisecond || r.FailedWrites != 2 || !strings.Contains(r.Errors[1], "failed after 7s") {
		t.Fatalf("hung last write: %+v", r)
	}
}
