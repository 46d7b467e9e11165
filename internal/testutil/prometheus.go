package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Prometheus runs Debian's Prometheus (make test installs it) scraping
// target every second as the job "etcdpilot", with the rule files given
// evaluated every second, and returns its address once it is ready. It
// stops when the test ends.
func Prometheus(t T, target string, rules ...string) string {
	t.Helper()
	SkipShort(t)
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: make test installs Debian's prometheus")
	}
	dir := Root(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	var files []string
	for _, r := range rules {
		abs, err := filepath.Abs(r)
		Must(t, err)
		files = append(files, fmt.Sprintf("%q", abs))
	}
	conf := filepath.Join(dir, "prometheus.yml")
	Must(t, os.WriteFile(conf, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: %s\nscrape_configs:\n  - job_name: etcdpilot\n    static_configs:\n      - targets: [%q]\n",
		"["+strings.Join(files, ", ")+"]", target)), 0o600))
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	Must(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	Must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	Eventually(t, time.Minute, func() error {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("prometheus: %s", resp.Status)
		}
		return nil
	})
	return addr
}

// PromQuery runs an instant query and returns its result's series.
func PromQuery(t T, prom, query string) []map[string]string {
	t.Helper()
	var r struct {
		Status string
		Data   struct {
			Result []struct{ Metric map[string]string }
		}
	}
	promGet(t, prom, "/api/v1/query?query="+url.QueryEscape(query), &r)
	var out []map[string]string
	for _, s := range r.Data.Result {
		out = append(out, s.Metric)
	}
	return out
}

// Alerts lists the alerts Prometheus holds, pending or firing, as
// "name{member}".
func Alerts(t T, prom string) []string {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []struct{ Labels map[string]string }
		}
	}
	promGet(t, prom, "/api/v1/alerts", &r)
	var out []string
	for _, a := range r.Data.Alerts {
		out = append(out, a.Labels["alertname"]+"{"+a.Labels["member"]+"}")
	}
	return out
}

func promGet(t T, prom, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + prom + path)
	Must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Must(t, err)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("prometheus %s: %v: %.300s", path, err, b)
	}
}

// HTTPGet returns the status code and body of a GET (0 and the error when
// the request fails), with a 10 s timeout.
func HTTPGet(url string) (int, string) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// SyncBuffer is a buffer one goroutine (a process's output, a logger)
// writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
