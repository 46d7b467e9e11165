package staticpod

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

// files reads and writes a host's files through its executor, so that the
// same code edits manifests here and over SSH.
type files struct {
	x hostexec.Executor
}

// read returns a file's contents; ok is false when it does not exist.
func (f files) read(ctx context.Context, p string) (data []byte, ok bool, err error) {
	q := hostexec.Quote(p)
	out, err := f.x.Run(ctx, fmt.Sprintf("if [ -e %s ]; then base64 < %s; else echo missing; fi", q, q))
	if err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(out.Stdout) == "missing" {
		return nil, false, nil
	}
	data, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(out.Stdout), ""))
	if err != nil {
		return nil, false, fmt.Errorf("%s: reading %s: %w", f.x, p, err)
	}
	return data, true, nil
}

// write puts data at p atomically: a dot-temp file beside it (the kubelet
// ignores dot files), fsync, rename, fsync of the directory. Mode 0600.
func (f files) write(ctx context.Context, p string, data []byte) error {
	dir := filepath.Dir(p)
	tmp := filepath.Join(dir, "."+filepath.Base(p)+".etcdpilot.tmp")
	script := fmt.Sprintf(`set -e
mkdir -p %[1]s
umask 077
printf '%%s' %[2]s | base64 -d > %[3]s
sync %[3]s 2>/dev/null || sync
mv -f %[3]s %[4]s
sync %[1]s 2>/dev/null || sync`, hostexec.Quote(dir), base64.StdEncoding.EncodeToString(data), hostexec.Quote(tmp), hostexec.Quote(p))
	_, err := f.x.Run(ctx, script)
	return err
}

// move renames from to to (creating to's directory), syncing both
// directories; a missing from is not an error when to exists.
func (f files) move(ctx context.Context, from, to string) error {
	script := fmt.Sprintf(`set -e
if [ ! -e %[1]s ] && [ -e %[2]s ]; then exit 0; fi
mkdir -p %[3]s
mv -f %[1]s %[2]s
sync %[3]s %[4]s 2>/dev/null || sync`, hostexec.Quote(from), hostexec.Quote(to), hostexec.Quote(filepath.Dir(to)), hostexec.Quote(filepath.Dir(from)))
	_, err := f.x.Run(ctx, script)
	return err
}

func (f files) remove(ctx context.Context, p string) error {
	_, err := f.x.Run(ctx, "rm -f -- "+hostexec.Quote(p))
	return err
}
