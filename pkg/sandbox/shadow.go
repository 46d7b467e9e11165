package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Shadow makes a stopped copy of this sandbox's configuration under root:
// the same member names, ports, URLs, flags, versions and certificates,
// with empty data directories for the caller to fill (copies of this
// sandbox's members' data). Its members bind this sandbox's ports, so they
// may only run inside a network namespace of their own.
func (s *Sandbox) Shadow(root, name string) (*Sandbox, error) {
	if err := ValidName("sandbox", name); err != nil {
		return nil, err
	}
	st, err := s.State()
	if err != nil {
		return nil, err
	}
	dir := sandboxDir(root, name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("shadow %s: %w", dir, err)
	}
	// Paths under the sandbox's directory move to the shadow's; the files
	// they name (certificates) are copied.
	move := func(p string) (string, error) {
		if p == "" || !strings.HasPrefix(p, s.Dir+string(filepath.Separator)) {
			return p, nil
		}
		np := filepath.Join(dir, strings.TrimPrefix(p, s.Dir+string(filepath.Separator)))
		if fsutil.Exists(p) {
			if err := os.MkdirAll(filepath.Dir(np), 0o700); err != nil {
				return "", err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			if err := fsutil.WriteFile(np, b, 0o600); err != nil {
				return "", err
			}
		}
		return np, nil
	}
	var firstErr error
	mv := func(p *string) {
		np, err := move(*p)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		*p = np
	}
	if st.TLS != nil {
		mv(&st.TLS.CA)
		mv(&st.TLS.Client.Cert)
		mv(&st.TLS.Client.Key)
	}
	for _, m := range st.Members {
		m.Process = proc{}
		m.DataDir = filepath.Join(dir, "members", m.Name)
		m.LogFile = filepath.Join(dir, "logs", m.Name+".log")
		if m.Cert != nil {
			mv(&m.Cert.Cert)
			mv(&m.Cert.Key)
		}
	}
	if firstErr != nil {
		os.RemoveAll(dir)
		return nil, firstErr
	}
	st.Name = name
	st.DieWithParent = true
	if err := writeState(dir, st); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Sandbox{Name: name, Dir: dir, Binaries: s.Binaries, Log: s.Log}, nil
}
