package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc identifies a process by pid and start time, so that a recycled pid
// is never mistaken for a member.
type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // /proc/<pid>/stat field 22, clock ticks since boot
}

// stat reads a process's state letter and start time from /proc.
func stat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

func procOf(pid int) (proc, error) {
	_, start, err := stat(pid)
	return proc{PID: pid, Start: start}, err
}

// alive reports whether the process still runs (a zombie does not count).
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	state, start, err := stat(p.PID)
	if err != nil || start != p.Start {
		return false
	}
	return state != 'Z' && state != 'X'
}

// stopped reports whether the process is stopped by a signal (SIGSTOP).
func (p proc) stopped() bool {
	state, start, err := stat(p.PID)
	return err == nil && start == p.Start && state == 'T'
}

func (p proc) signal(sig syscall.Signal) error {
	if !p.alive() {
		return errGone
	}
	err := syscall.Kill(p.PID, sig)
	if errors.Is(err, syscall.ESRCH) {
		return errGone
	}
	return err
}

var errGone = errors.New("process is not running")

// processesWithArgPrefix scans /proc for processes with an argument that
// starts with prefix.
func processesWithArgPrefix(prefix string) []proc {
	return processesWith(func(arg string) bool { return strings.HasPrefix(arg, prefix) })
}

// processesWithArg scans /proc for processes with the argument arg.
func processesWithArg(arg string) []proc {
	return processesWith(func(a string) bool { return a == arg })
}

// processesWith scans /proc for live processes with an argument that
// matches.
func processesWith(match func(arg string) bool) []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if match(arg) {
				if p, err := procOf(pid); err == nil && p.alive() {
					out = append(out, p)
				}
				break
			}
		}
	}
	return out
}

// waitGone polls until the process has exited or the timeout passes.
func (p proc) waitGone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !p.alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
