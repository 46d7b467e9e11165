package bench

import (
	"bufio"
	"encoding/json"
	"os"
	"time"
)

// logEvent is one line of an etcd member's JSON log.
type logEvent struct {
	at  time.Time
	msg string
}

// raftEvents reads the raft logger's lines from an etcd JSON log (zap,
// microsecond timestamps). Lines that are not JSON are skipped.
func raftEvents(path string) []logEvent {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []logEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Ts     string `json:"ts"`
			Logger string `json:"logger"`
			Msg    string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Logger != "raft" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, l.Ts)
		if err != nil {
			continue
		}
		out = append(out, logEvent{at: at, msg: l.Msg})
	}
	return out
}
