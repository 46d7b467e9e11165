package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/defrag"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// Spool holds segments on this machine's disk while the store refuses
// them, and sends them on, oldest first, once it takes writes again: a
// store down for a while costs disk here, up to Max, instead of memory
// or the chain. Segments are sent in the order they were cut, so the
// store never shows a hole that is only late.
type Spool struct {
	Dir string
	Max int64
	// Retry is how long after a refusal the store is left alone: the
	// segments cut meanwhile go straight to the spool (default 5 s).
	Retry time.Duration

	mu      sync.Mutex
	held    map[string]int64 // name → bytes; nil until read from Dir
	bytes   int64
	resting time.Time // the store is not tried before this
}

// DefaultSpoolSize is the spool's bound when none is given.
const DefaultSpoolSize = 1 << 30

// ParseSpoolSize reads a spool's bound ("1GiB"; "0" for no spool; ""
// for the default).
func ParseSpoolSize(s string) (int64, error) {
	switch strings.TrimSpace(s) {
	case "":
		return DefaultSpoolSize, nil
	case "0":
		return 0, nil
	}
	n, err := defrag.ParseBytes(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: give a size such as 1GiB (0: no spool)", s)
	}
	return n, nil
}

// SpoolDir is where a store's spool lives under a state directory: one
// directory per store location, so that two stores never mix.
func SpoolDir(stateDir, location string) string {
	sum := sha256.Sum256([]byte(location))
	return filepath.Join(stateDir, "pitr-spool", hex.EncodeToString(sum[:8]))
}

// ErrSpoolFull means the store refused a segment and the spool holds its
// bound already.
var ErrSpoolFull = errors.New("the spool is full")

// putTimeout bounds one write to the store.
const putTimeout = 30 * time.Second

func (s *Spool) disk() snapshot.Dir { return snapshot.Dir{Path: s.Dir} }

func (s *Spool) load(ctx context.Context) error {
	if s.held != nil {
		return nil
	}
	names, err := s.disk().ListObjects(ctx, Prefix)
	if err != nil {
		return fmt.Errorf("spool %s: %w", s.Dir, err)
	}
	s.held = map[string]int64{}
	for _, n := range names {
		fi, err := os.Stat(s.disk().File(filepath.FromSlash(n)))
		if err != nil {
			return fmt.Errorf("spool %s: %w", s.Dir, err)
		}
		s.held[n] = fi.Size()
		s.bytes += fi.Size()
	}
	return nil
}

// Held is how many segments and bytes the spool holds.
func (s *Spool) Held() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.bytes
}

// Sent is a segment the spool sent on.
type Sent struct {
	Name  string
	Bytes int64
}

// Send sends what the spool holds to the store, oldest first; it stops
// at the first refusal.
func (s *Spool) Send(ctx context.Context, objs snapshot.Objects) ([]Sent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if len(s.held) == 0 {
		return nil, nil
	}
	if time.Now().Before(s.resting) {
		return nil, errResting
	}
	names, err := s.disk().ListObjects(ctx, Prefix) // sorted: by base, then revision
	if err != nil {
		return nil, err
	}
	var sent []Sent
	for _, n := range names {
		data, err := s.disk().GetObject(ctx, n)
		if err != nil {
			return sent, fmt.Errorf("spool %s: %w", s.Dir, err)
		}
		if err := put(ctx, objs, n, data); err != nil {
			s.rest()
			return sent, err
		}
		if err := s.disk().DeleteObject(ctx, n); err != nil {
			return sent, fmt.Errorf("spool %s: %w", s.Dir, err)
		}
		sent = append(sent, Sent{Name: n, Bytes: s.held[n]})
		s.bytes -= s.held[n]
		delete(s.held, n)
	}
	return sent, nil
}

// Put sends data to the store once what the spool holds is sent. When
// the store refuses, data is kept on disk instead while the spool holds
// less than Max: refused is then the store's answer. err says that
// neither the store nor the spool took data.
func (s *Spool) Put(ctx context.Context, objs snapshot.Objects, name string, data []byte) (sent []Sent, refused, err error) {
	sent, refused = s.Send(ctx, objs)
	if refused == nil {
		if refused = put(ctx, objs, name, data); refused == nil {
			return sent, nil, nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		return sent, nil, refused // the spool could not be read
	}
	if !errors.Is(refused, errResting) {
		s.rest()
	}
	if s.bytes+int64(len(data)) > s.Max {
		return sent, nil, fmt.Errorf("%w (%d bytes in %s, the bound) and the store refuses: %w", ErrSpoolFull, s.bytes, s.Dir, refused)
	}
	if kerr := s.disk().PutObject(ctx, name, data); kerr != nil && !errors.Is(kerr, fsutil.ErrExists) {
		return sent, nil, fmt.Errorf("the store refused (%w) and the spool %s too: %v", refused, s.Dir, kerr)
	}
	s.held[name] = int64(len(data))
	s.bytes += int64(len(data))
	return sent, refused, nil
}

// errResting is the store not tried again yet after a refusal.
var errResting = errors.New("the store refused a write moments ago; segments go to the spool until it is tried again")

func (s *Spool) rest() {
	d := s.Retry
	if d <= 0 {
		d = 5 * time.Second
	}
	s.resting = time.Now().Add(d)
}

// put writes one segment to the store. A name already taken is a
// segment written before (its reply lost, or the spool stopped before
// deleting its copy): the same chain and revisions, so it is stored.
func put(ctx context.Context, objs snapshot.Objects, name string, data []byte) error {
	pctx, cancel := context.WithTimeout(ctx, putTimeout)
	defer cancel()
	if err := objs.PutObject(pctx, name, data); err != nil && !errors.Is(err, fsutil.ErrExists) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
