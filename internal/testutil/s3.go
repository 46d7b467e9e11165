package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
)

// VersityGW is the versitygw version scripts/versitygw.sh builds.
const VersityGW = "v1.8.0"

// S3 credentials and region of the test servers; S3Env sets them for the
// AWS SDK of this process and S3Environ lists them for child processes.
const (
	S3AccessKey = "etcdpilot-test"
	S3SecretKey = "etcdpilot-test-secret"
	S3Region    = "us-east-1"
)

// S3Environ is the AWS environment a child process needs for the test
// servers (never a developer's real credentials).
func S3Environ() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + S3AccessKey, "AWS_SECRET_ACCESS_KEY=" + S3SecretKey, "AWS_REGION=" + S3Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
}

// S3Env sets S3Environ in this process (the same values every time, so
// parallel tests agree).
func S3Env(t testing.TB) {
	for _, kv := range S3Environ() {
		k, v, _ := strings.Cut(kv, "=")
		Must(t, os.Setenv(k, v))
	}
}

// S3 starts a real versitygw (built by make versitygw) on a free port of
// 127.0.0.1 over a directory of the test, with buckets made as
// directories, and returns its endpoint and the directory that holds the
// buckets' objects. It stops when the test ends.
func S3(t testing.TB, buckets ...string) (endpoint, data string) {
	t.Helper()
	s := StartS3(t, buckets...)
	return s.Endpoint, s.Data
}

// S3Server is a versitygw of a test, which the test may kill (SIGKILL:
// the store unreachable) and start again on the same address and data.
type S3Server struct {
	Endpoint, Data string
	t              testing.TB
	bin, addr, log string
	cmd            *exec.Cmd
}

// StartS3 is S3 with the server's handle.
func StartS3(t testing.TB, buckets ...string) *S3Server {
	t.Helper()
	SkipShort(t)
	bin := filepath.Join(binaries.DefaultCacheDir(), "tools", "versitygw-"+VersityGW, "versitygw")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw not found at %s: run `make versitygw`", bin)
	}
	dir := Root(t)
	s := &S3Server{t: t, bin: bin, Data: filepath.Join(dir, "data"), log: filepath.Join(dir, "versitygw.log")}
	for _, b := range buckets {
		Must(t, os.MkdirAll(filepath.Join(s.Data, b), 0o700))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err)
	s.addr = ln.Addr().String()
	ln.Close()
	s.Endpoint = "http://" + s.addr
	t.Cleanup(s.Kill)
	s.Start()
	return s
}

// Start starts the server (again) and waits until it answers.
func (s *S3Server) Start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.bin, "--port", s.addr, "--region", S3Region, "--quiet", "posix", s.Data)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+S3AccessKey, "ROOT_SECRET_KEY="+S3SecretKey)
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	Must(t, err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	Must(t, cmd.Start())
	s.cmd = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("versitygw did not answer on %s: %s", s.addr, fmt.Sprint(ctx.Err()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL (nothing when it is not running).
func (s *S3Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
