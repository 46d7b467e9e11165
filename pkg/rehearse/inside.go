package rehearse

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/cluster"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/upgrade"
)

// InsideOptions are the inside half's: the rehearsal's directory and the
// upgrade.
type InsideOptions struct {
	Root        string
	Target      string
	NoWALFix    bool
	GateTimeout time.Duration
	// LoopbackUp brings lo up first (a new network namespace has it down).
	LoopbackUp bool
	Binaries   *binaries.Manager
	Catalog    *catalog.Catalog
	Log        *slog.Logger
	// User and Password reach a shadow that keeps the cluster's auth.
	User, Password string
}

// Inside starts the shadow's members and runs the upgrade on them under
// the probe; it runs where the shadow's ports are free (its own network
// namespace for copies). The members are left running for the caller,
// which destroys the shadow.
func Inside(ctx context.Context, o InsideOptions) (*upgrade.Report, error) {
	if o.LoopbackUp {
		if err := loopbackUp(); err != nil {
			return nil, err
		}
	}
	shadow, err := sandbox.Open(o.Root, ShadowName, o.Binaries)
	if err != nil {
		return nil, err
	}
	shadow.Log = o.Log
	shadow.User, shadow.Password = o.User, o.Password
	if err := shadow.StartAll(ctx); err != nil {
		return nil, fmt.Errorf("start the shadow: %w", err)
	}
	st, err := shadow.State()
	if err != nil {
		return nil, err
	}
	c := st.Conn()
	c.User, c.Password = o.User, o.Password
	s, err := cluster.Open(c, o.Log)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return upgrade.Apply(ctx, upgrade.Options{
		Target: o.Target, Session: s, Runtime: shadow, Catalog: o.Catalog,
		JournalPath: filepath.Join(o.Root, "journal.json"), LockDir: filepath.Join(o.Root, "locks"),
		SkipSnapshot: true, Probe: true, NoWALFix: o.NoWALFix, GateTimeout: o.GateTimeout, Log: o.Log,
	})
}

// loopbackUp sets the loopback interface up.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read lo's flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
