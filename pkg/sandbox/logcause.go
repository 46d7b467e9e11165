package sandbox

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// logLines returns the lines a member logged since its last start.
func logLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, startMarker) {
			lines = lines[:0]
			continue
		}
		lines = append(lines, line)
	}
	return lines, sc.Err()
}

// logCause returns etcd's own account of why it stopped: the message and
// error of its last error, panic or fatal log entry ("" if none).
func logCause(path string) string {
	lines, _ := logLines(path)
	for i := len(lines) - 1; i >= 0; i-- {
		var e struct{ Level, Msg, Error string }
		if !strings.HasPrefix(lines[i], "{") || json.Unmarshal([]byte(lines[i]), &e) != nil {
			continue
		}
		if e.Level != "error" && e.Level != "panic" && e.Level != "fatal" {
			continue
		}
		if e.Error == "" {
			return e.Msg
		}
		return e.Msg + ": " + e.Error
	}
	return ""
}

// startFailure describes a member that exited during its start: etcd's
// cause first, what to do about the common ones, then its log tail.
func startFailure(m *Member) error {
	head := fmt.Sprintf("member %s (etcd %s) exited during start", m.Name, version.Plain(m.Version))
	cause := logCause(m.LogFile)
	if cause != "" {
		head += ": " + cause
	}
	switch {
	case strings.Contains(cause, "no space left on device"):
		head += fmt.Sprintf("\nthe filesystem of %s is full: free space there (etcd preallocates 64MB for its first WAL file) or choose another --state-dir", filepath.Dir(m.DataDir))
	case strings.Contains(cause, "permission denied"):
		head += fmt.Sprintf("\netcd cannot write %s: check its owner and mode", m.DataDir)
	}
	return fmt.Errorf("%s\nlast log lines of %s:\n%s", head, m.LogFile, LogTail(m.LogFile, 15))
}
