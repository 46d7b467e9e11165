package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
)

// APIServer is a real kube-apiserver on an etcd cluster, reached over
// REST with a static admin token.
type APIServer struct {
	URL    string
	Token  string
	Dir    string
	client *http.Client
}

// StartAPIServer starts kube-apiserver on the cluster etcd serves and
// waits until /readyz answers. It stops when the test ends.
func StartAPIServer(t testutil.T, etcd conn.Config) *APIServer {
	t.Helper()
	bin := Tool(t, "kube-apiserver")
	dir, err := os.MkdirTemp("", "ep-apiserver-")
	testutil.Must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	testutil.Must(t, err)
	keyFile := filepath.Join(dir, "sa.key")
	testutil.Must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	a := &APIServer{Token: "etcdpilot-test-token", Dir: dir}
	tokens := filepath.Join(dir, "tokens.csv")
	testutil.Must(t, os.WriteFile(tokens, []byte(a.Token+",admin,admin-uid,system:masters\n"), 0o600))
	port := freePort(t)
	a.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + strings.Join(etcd.Endpoints, ","),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + keyFile, "--service-account-signing-key-file=" + keyFile,
		"--token-auth-file=" + tokens, "--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24", "--endpoint-reconciler-type=none",
	}
	if etcd.CACert != "" {
		args = append(args, "--etcd-cafile="+etcd.CACert, "--etcd-certfile="+etcd.Cert, "--etcd-keyfile="+etcd.Key)
	}
	logf, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	testutil.Must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() {
		stopGroup(cmd, 20*time.Second)
		logf.Close()
	})
	a.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	testutil.Eventually(t, 90*time.Second, func() error {
		code, body, err := a.Do(context.Background(), http.MethodGet, "/readyz", nil)
		if err == nil && code != 200 {
			err = fmt.Errorf("readyz %d: %s", code, body)
		}
		return err
	})
	return a
}

// Do sends a request as the admin and returns the status and body.
func (a *APIServer) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	return a.DoContent(ctx, method, path, body, "")
}

// DoContent is Do with the body's content type named (a patch's).
func (a *APIServer) DoContent(ctx context.Context, method, path string, body any, contentType string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			r = bytes.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				return 0, nil, err
			}
			r = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
		if _, ok := body.([]byte); !ok {
			req.Header.Set("Content-Type", "application/json")
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// Stream opens a watch (or any streaming GET) as the admin.
func (a *APIServer) Stream(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	c := *a.client
	c.Timeout = 0
	return c.Do(req)
}
