package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// Report is the outcome of Verify.
type Report struct {
	File     string       `json:"file"`
	Info     *Info        `json:"info"`
	Sidecar  bool         `json:"sidecar"`
	Drill    *Drill       `json:"drill,omitempty"`
	Problems []string     `json:"problems"`
	Compared []Comparison `json:"compared,omitempty"`
}

// OK reports whether nothing was wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Drill is a restore drill's result.
type Drill struct {
	EtcdVersion string        `json:"etcdVersion"`
	Took        time.Duration `json:"took"`
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Drill restores the snapshot into a scratch single-member etcd, starts
	// it and compares it with the snapshot.
	Drill bool
	// EtcdVersion runs the drill with this version (default: the sidecar's).
	EtcdVersion string
	Binaries    *binaries.Manager
	// ScratchDir holds the drill's sandbox (default: the system temp dir).
	ScratchDir string
	// Stores opens the location (S3 settings, the age identity).
	Stores Stores
	Log    *slog.Logger
}

// Verify checks the snapshot at location (through its store): the
// trailer, bbolt's consistency, and the sidecar's SHA-256, revision, key
// count and HashKV; with a drill, a real etcd restored from the file must
// agree too. A passing verify is recorded in the sidecar.
func Verify(ctx context.Context, location string, opts VerifyOptions) (*Report, error) {
	store, name, err := opts.Stores.Locate(ctx, location)
	if err != nil {
		return nil, err
	}
	file, done, err := fetchRaw(ctx, store, name, opts.Stores.AgeIdentity)
	if err != nil {
		return nil, err
	}
	defer done()
	r := &Report{File: location, Problems: []string{}}
	info, err := Check(file)
	if err != nil {
		return nil, err
	}
	r.Info = info
	sc, err := store.Sidecar(ctx, name)
	switch {
	case err == nil:
		r.Sidecar = true
		r.compareSidecar(sc)
	case isNotExist(err):
	default:
		return nil, err
	}
	if opts.Drill {
		v := opts.EtcdVersion
		if v == "" && sc != nil {
			v = sc.EtcdVersion
		}
		if v == "" {
			return nil, fmt.Errorf("%s has no sidecar naming its etcd version; pass --etcd-version for the drill", file)
		}
		if err := CheckVersion(file, info, v); err != nil {
			return nil, err
		}
		d, cmp, err := drill(ctx, file, v, opts)
		if err != nil {
			r.Problems = append(r.Problems, "restore drill: "+err.Error())
		}
		r.Drill, r.Compared = d, cmp
	}
	if r.OK() && sc != nil {
		now := time.Now().UTC()
		sc.VerifiedAt = &now
		if r.Drill != nil {
			sc.DrilledAt = &now
		}
		if err := store.PutSidecar(ctx, name, sc); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Report) compareSidecar(sc *Sidecar) {
	i := r.Info
	check := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s is %v, the sidecar says %v", what, got, want))
		}
	}
	check("sha256", i.SHA256, sc.SHA256)
	check("size", i.Size, sc.Size)
	check("revision", i.Revision, sc.Revision)
	check("key count", i.KeyCount, sc.KeyCount)
	check("HashKV", i.HashKV, sc.HashKV)
}

// drill restores the file into a scratch one-member sandbox of version v.
func drill(ctx context.Context, file, v string, opts VerifyOptions) (*Drill, []Comparison, error) {
	start := time.Now()
	root, err := os.MkdirTemp(opts.ScratchDir, "etcdpilot-drill-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(root)
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, nil, err
	}
	var info *Info
	sb, err := sandbox.Create(ctx, root, opts.Binaries, sandbox.Options{
		Name: "drill", Members: 1, Versions: []string{v},
		BeforeStart: func(st *sandbox.State) error {
			m := st.Members[0]
			_, err := RestoreDataDirs(abs, []Target{{Name: m.Name, PeerURLs: []string{m.PeerURL}, DataDir: m.DataDir}}, RestoreOptions{Token: st.Token, EtcdVersion: v})
			return err
		},
	}, opts.Log)
	if err != nil {
		return nil, nil, err
	}
	defer sb.Destroy(context.Background())
	if info, err = Check(file); err != nil {
		return nil, nil, err
	}
	st, err := sb.State()
	if err != nil {
		return nil, nil, err
	}
	p, err := conn.NewPool(st.Conn())
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	cmp, err := CompareCluster(ctx, p, info, 0)
	return &Drill{EtcdVersion: v, Took: time.Since(start).Round(time.Millisecond)}, cmp, err
}
