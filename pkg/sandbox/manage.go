package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/pki"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Reserve adds a member that is not started yet: ports, data directory and
// certificate, with --initial-cluster-state existing. The caller adds it to
// the cluster (MemberAdd), calls SetInitialCluster, then Start.
func (s *Sandbox) Reserve(name, v string) (*Member, error) {
	if err := ValidName("member", name); err != nil {
		return nil, err
	}
	cv, err := version.Canonical(v)
	if err != nil {
		return nil, err
	}
	var out *Member
	err = s.Update(func(st *State) error {
		if _, err := st.Member(name); err == nil {
			return fmt.Errorf("sandbox %s already has a member %s", s.Name, name)
		}
		ports := newPortSet(s.Dir)
		for _, m := range st.Members {
			ports.used[m.ClientPort], ports.used[m.PeerPort] = true, true
		}
		m, err := s.newMember(name, cv, ports)
		if err != nil {
			return err
		}
		m.InitialClusterState = "existing"
		if len(st.Members) > 0 {
			m.ExtraFlags = append([]string(nil), st.Members[0].ExtraFlags...)
		}
		if st.TLS != nil {
			ca, err := pki.LoadCA(filepath.Join(s.Dir, "pki"))
			if err != nil {
				return err
			}
			if err := s.issueMemberCert(st, m, ca); err != nil {
				return err
			}
		}
		st.Members = append(st.Members, m)
		out = m
		return nil
	})
	return out, err
}

// SetInitialCluster records the --initial-cluster a reserved member joins with.
func (s *Sandbox) SetInitialCluster(name, initialCluster string) error {
	return s.Update(func(st *State) error {
		m, err := st.Member(name)
		if err != nil {
			return err
		}
		m.InitialCluster = initialCluster
		m.InitialClusterState = "existing"
		return nil
	})
}

// Forget stops a member's process and removes it from the sandbox; its data
// directory is moved aside, never deleted outright.
func (s *Sandbox) Forget(ctx context.Context, name string) error {
	if err := s.Stop(ctx, name); err != nil {
		return err
	}
	return s.Update(func(st *State) error {
		for i, m := range st.Members {
			if m.Name != name {
				continue
			}
			if _, err := os.Stat(m.DataDir); err == nil {
				aside := fmt.Sprintf("%s.removed-%d", m.DataDir, time.Now().Unix())
				if err := os.Rename(m.DataDir, aside); err != nil {
					return err
				}
			}
			st.Members = append(st.Members[:i], st.Members[i+1:]...)
			releasePorts(s.Dir, map[int]bool{m.ClientPort: true, m.PeerPort: true})
			return nil
		}
		return nil
	})
}

// Provision reserves a member (runtime.Provisioner): the one reserved
// before under that name, or a new one.
func (s *Sandbox) Provision(ctx context.Context, name, version string) (runtime.NewMember, error) {
	st, err := s.State()
	if err != nil {
		return runtime.NewMember{}, err
	}
	m, err := st.Member(name)
	if err != nil {
		if version == "" && len(st.Members) > 0 {
			version = st.Members[0].Version
		}
		if m, err = s.Reserve(name, version); err != nil {
			return runtime.NewMember{}, err
		}
	}
	return runtime.NewMember{Name: name, PeerURLs: []string{m.PeerURL}, Running: m.Running()}, nil
}

// Join records the member's --initial-cluster and starts it
// (runtime.Provisioner).
func (s *Sandbox) Join(ctx context.Context, name, initialCluster string) error {
	if err := s.SetInitialCluster(name, initialCluster); err != nil {
		return err
	}
	return s.Start(ctx, name, runtime.StartOptions{})
}

// Retire is Forget (runtime.Provisioner).
func (s *Sandbox) Retire(ctx context.Context, name string) error { return s.Forget(ctx, name) }

// Provisioned reports whether the sandbox has a member of that name.
func (s *Sandbox) Provisioned(ctx context.Context, name string) bool {
	st, err := s.State()
	if err != nil {
		return false
	}
	_, err = st.Member(name)
	return err == nil
}

// UpdateMember changes a member's recorded configuration.
func (s *Sandbox) UpdateMember(name string, fn func(*Member) error) error {
	return s.Update(func(st *State) error {
		m, err := st.Member(name)
		if err != nil {
			return err
		}
		return fn(m)
	})
}
