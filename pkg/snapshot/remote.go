package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/runtime"
)

// RestoreOnHosts restores every target's data directory on its member's
// host: each directory is built on this machine by RestoreDataDirs (the
// etcdutl library etcdpilot carries, so a bump works whatever etcd the
// nodes run), sent through the host's executor as a gzip'd tar stream
// into a temporary directory beside the data directory (owned like the
// old one), and only once every host holds its copy are the old
// directories moved aside (never deleted) and the new ones renamed into
// place. A failure before that leaves every host's data directory as it
// was. The hosts need sh, tar and gzip; scratch space here is the sum of
// the data directories (TMPDIR).
func RestoreOnHosts(ctx context.Context, file string, targets []Target, hosts map[string]hostexec.Executor, opts RestoreOptions) (string, error) {
	scratch, err := os.MkdirTemp("", "etcdpilot-restore-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	local := make([]Target, len(targets))
	for i, t := range targets {
		if hosts[t.Name] == nil {
			return "", fmt.Errorf("member %s: no host to restore its data directory on", t.Name)
		}
		if !filepath.IsAbs(t.DataDir) {
			return "", fmt.Errorf("member %s: data directory %q is not an absolute path", t.Name, t.DataDir)
		}
		local[i] = Target{Name: t.Name, PeerURLs: t.PeerURLs, DataDir: filepath.Join(scratch, t.Name)}
	}
	if opts.InitialCluster == "" {
		opts.InitialCluster = initialCluster(targets)
	}
	token, err := RestoreDataDirs(file, local, opts)
	if err != nil {
		return "", err
	}
	log := logging.OrDiscard(opts.Progress)
	stamp := time.Now().UTC().Format("20060102T150405")
	err = eachIndex(targets, func(i int, t Target) error {
		start := time.Now()
		n, err := stage(ctx, hosts[t.Name], local[i].DataDir, t.DataDir, restoreTemp(t, stamp))
		os.RemoveAll(local[i].DataDir)
		if err != nil {
			return err
		}
		log.Info("member {member}: data directory sent to {host}:{dir} ({size} compressed, {took})", "member", t.Name, "host", hosts[t.Name], "dir", restoreTemp(t, stamp), "size", progress.Bytes(n), "took", time.Since(start).Round(100*time.Millisecond))
		return nil
	})
	if err != nil {
		discard(hosts, targets, stamp)
		return "", fmt.Errorf("%w (every data directory is as it was)", err)
	}
	asides := make([]string, len(targets))
	placed := make([]bool, len(targets))
	err = eachIndex(targets, func(i int, t Target) error {
		out, err := hosts[t.Name].Run(ctx, swapScript(t, stamp))
		if err != nil {
			return err
		}
		placed[i], asides[i] = true, strings.TrimSpace(out.Stdout)
		return nil
	})
	if err != nil {
		undoSwaps(hosts, targets, placed, asides, stamp)
		discard(hosts, targets, stamp)
		return "", fmt.Errorf("%w (the data directories put in place were moved back)", err)
	}
	for i, t := range targets {
		if asides[i] != "" {
			log.Info("member {member}: old data directory kept at {host}:{dir}", "member", t.Name, "host", hosts[t.Name], "dir", asides[i])
		}
	}
	return token, nil
}

// initialCluster is name=peerURL,... for the targets.
func initialCluster(targets []Target) string {
	var parts []string
	for _, t := range targets {
		for _, u := range t.PeerURLs {
			parts = append(parts, t.Name+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

// stage streams dir into tmp on the host, beside dataDir; it refuses a
// data directory whose database a running etcd holds locked. It returns
// the bytes sent.
func stage(ctx context.Context, x hostexec.Executor, dir, dataDir, tmp string) (int64, error) {
	d, q := hostexec.Quote(dataDir), hostexec.Quote(tmp)
	script := fmt.Sprintf(`set -e
if [ -e %[1]s/member/snap/db ] && command -v flock >/dev/null 2>&1 && ! flock -n -s %[1]s/member/snap/db true; then
  echo "data directory %[3]s is in use by a running etcd (its database is locked); stop that member first" >&2; exit 3
fi
mkdir -p "$(dirname %[1]s)"
mkdir -m 700 %[2]s
gzip -dc | tar -xf - -C %[2]s
if [ -d %[1]s ]; then chown -R "$(stat -c %%u:%%g %[1]s)" %[2]s; fi
sync`, d, q, dataDir)
	pr, pw := io.Pipe()
	cw := &countWriter{w: pw}
	done := make(chan error, 1)
	go func() {
		err := tarGz(cw, dir)
		pw.CloseWithError(err)
		done <- err
	}()
	_, err := x.RunInput(ctx, script, pr)
	pr.CloseWithError(errors.New("the host stopped reading"))
	if terr := <-done; err == nil && terr != nil {
		err = terr
	}
	return cw.n, err
}

// swapScript moves a non-empty data directory aside and the staged one
// into its place, printing where the old one went; when the second move
// fails, the old directory goes back.
func swapScript(t Target, stamp string) string {
	return fmt.Sprintf(`set -e
moved=
if [ -d %[1]s ] && [ -n "$(ls -A %[1]s)" ]; then mv %[1]s %[3]s; moved=1; elif [ -d %[1]s ]; then rmdir %[1]s; fi
if ! mv %[2]s %[1]s; then
  if [ -n "$moved" ]; then mv %[3]s %[1]s; fi
  exit 1
fi
if [ -n "$moved" ]; then echo %[3]s; fi
sync`, hostexec.Quote(t.DataDir), hostexec.Quote(restoreTemp(t, stamp)), hostexec.Quote(asideDir(t.DataDir, stamp)))
}

// undoSwaps puts the old data directories back where the new ones were
// placed; the new ones go back to their temporary names.
func undoSwaps(hosts map[string]hostexec.Executor, targets []Target, placed []bool, asides []string, stamp string) {
	for i, t := range targets {
		if !placed[i] {
			continue
		}
		script := fmt.Sprintf("mv %s %s", hostexec.Quote(t.DataDir), hostexec.Quote(restoreTemp(t, stamp)))
		if asides[i] != "" {
			script += fmt.Sprintf(" && mv %s %s", hostexec.Quote(asides[i]), hostexec.Quote(t.DataDir))
		}
		hosts[t.Name].Run(context.Background(), script+" && sync")
	}
}

// discard removes the staged copies, whole or half-sent (etcdpilot's
// own, named by this run's stamp; never a member's data).
func discard(hosts map[string]hostexec.Executor, targets []Target, stamp string) {
	for _, t := range targets {
		hosts[t.Name].Run(context.Background(), "rm -rf -- "+hostexec.Quote(restoreTemp(t, stamp)))
	}
}

// tarGz writes dir's regular files and directories as a gzip'd tar
// stream, owned by root (the host gives them its data directory's owner).
// gzip's fastest level: the WAL's preallocated zeros cost nothing to send.
func tarGz(w io.Writer, dir string) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return fmt.Errorf("%s: not a regular file or directory", p)
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime(), Typeflag: tar.TypeReg, Size: fi.Size()}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Size = tar.TypeDir, h.Name+"/", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// hostsOf returns the executor of every target's host when rt reaches
// its members through executors and one of them is not this machine;
// nil means the data directories are restored here.
func hostsOf(hosted runtime.Hosted, targets []Target) map[string]hostexec.Executor {
	out := map[string]hostexec.Executor{}
	remote := false
	for _, t := range targets {
		x := hosted.Host(t.Name)
		if _, local := x.(hostexec.Local); !local {
			remote = true
		}
		out[t.Name] = x
	}
	if !remote {
		return nil
	}
	return out
}
