package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one snapshot in a directory.
type Entry struct {
	File      string     `json:"file"`
	Size      int64      `json:"size"`
	Time      time.Time  `json:"time"`
	Sidecar   *Sidecar   `json:"sidecar,omitempty"`
	Verified  *time.Time `json:"verifiedAt,omitempty"`
	Drilled   *time.Time `json:"drilledAt,omitempty"`
	SidecarOK bool       `json:"hasSidecar"`
}

// List returns the *.db snapshots in dir, newest first, with their
// sidecars. The time is the sidecar's creation time, else the file's mtime.
func List(dir string) ([]Entry, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".db") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		en := Entry{File: p, Size: fi.Size(), Time: fi.ModTime().UTC()}
		if sc, err := ReadSidecar(p); err == nil {
			en.Sidecar, en.SidecarOK = sc, true
			en.Time, en.Verified, en.Drilled = sc.CreatedAt, sc.VerifiedAt, sc.DrilledAt
		}
		out = append(out, en)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Policy says which snapshots to keep; a snapshot kept by any rule stays.
type Policy struct {
	KeepLast   int // the newest N
	KeepHourly int // the newest in each of the last H hours that have one
	KeepDaily  int // the newest in each of the last D days that have one
}

// Decision is what prune does with one snapshot.
type Decision struct {
	Entry
	Keep   bool     `json:"keep"`
	Reason []string `json:"reasons"`
}

// Decide applies the policy to entries sorted newest first. Only snapshots
// with a sidecar (etcdpilot's own) are ever pruned.
func Decide(entries []Entry, p Policy) []Decision {
	ds := make([]Decision, len(entries))
	hours, days := map[string]bool{}, map[string]bool{}
	n := 0
	for i, e := range entries {
		d := Decision{Entry: e}
		if !e.SidecarOK {
			d.Keep, d.Reason = true, []string{"no sidecar: not etcdpilot's, never pruned"}
			ds[i] = d
			continue
		}
		if n < p.KeepLast {
			d.Keep = true
			d.Reason = append(d.Reason, fmt.Sprintf("last %d", p.KeepLast))
		}
		n++
		h := e.Time.UTC().Format("2006-01-02T15")
		if !hours[h] && len(hours) < p.KeepHourly {
			hours[h] = true
			d.Keep = true
			d.Reason = append(d.Reason, "hourly "+h)
		}
		day := e.Time.UTC().Format("2006-01-02")
		if !days[day] && len(days) < p.KeepDaily {
			days[day] = true
			d.Keep = true
			d.Reason = append(d.Reason, "daily "+day)
		}
		ds[i] = d
	}
	return ds
}

// Prune removes the snapshots (and sidecars) the policy does not keep,
// unless dryRun. It returns the decisions.
func Prune(dir string, p Policy, dryRun bool) ([]Decision, error) {
	if p.KeepLast <= 0 && p.KeepHourly <= 0 && p.KeepDaily <= 0 {
		return nil, fmt.Errorf("a policy that keeps nothing would delete every snapshot: give --keep-last, --keep-hourly or --keep-daily")
	}
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	ds := Decide(entries, p)
	if dryRun {
		return ds, nil
	}
	for _, d := range ds {
		if d.Keep {
			continue
		}
		if err := os.Remove(d.File); err != nil {
			return ds, err
		}
		os.Remove(SidecarPath(d.File))
	}
	return ds, nil
}
