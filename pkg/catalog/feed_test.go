package catalog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProxyFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		env  func(string) string
		want string
		err  string
	}{
		{env(), "https://proxy.golang.org", ""},
		{env("GOPROXY", "https://a.example/,direct"), "https://a.example", ""},
		{env("GOPROXY", "https://a.example|https://b.example"), "https://a.example https://b.example", ""},
		{env("GOPROXY", "off"), "", "GOPROXY=off"},
		{env("GOPROXY", "direct"), "", "only direct"},
		{env("GOPRIVATE", "go.etcd.io"), "", "GONOPROXY/GOPRIVATE=go.etcd.io"},
		{env("GOPRIVATE", "go.etcd.io", "GONOPROXY", "none.example"), "https://proxy.golang.org", ""},
	} {
		urls, err := ProxyFromEnv(tc.env).Usable()
		if got := strings.Join(urls, " "); got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("got %q, %v; want %q, %q", got, err, tc.want, tc.err)
		}
	}
}

// A proxy answering as the Go module proxy does, with lines that are not
// releases mixed in: they are skipped, the releases kept with their times.
func TestFetchSkipsWhatIsNotARelease(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/@v/list") && strings.Contains(r.URL.Path, "server/v3"):
			w.Write([]byte("v3.6.17\nv3.6.0-alpha.0.0.20251230120505-aef0361938cb\nnot-a-version\nv3.7.0-rc.0\n\nv2.305.1\n<html>\n"))
		case strings.HasSuffix(r.URL.Path, "/@v/list"):
			w.Write([]byte("v3.5.36\n"))
		case strings.HasSuffix(r.URL.Path, "v3.6.17.info"):
			w.Write([]byte(`{"Version":"v3.6.17","Time":"2026-11-18T22:39:16Z"}`))
		case strings.HasSuffix(r.URL.Path, ".info"):
			w.Write([]byte(`garbage`))
		}
	}))
	defer srv.Close()
	f := &Fetcher{Proxy: Proxy{URLs: []string{srv.URL}}}
	feed, err := f.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range feed.Releases {
		got = append(got, r.Version)
	}
	if strings.Join(got, ",") != "3.5.36,3.6.17,3.7.0-rc.0" || feed.Skipped != 4 {
		t.Fatalf("releases %v, skipped %d", got, feed.Skipped)
	}
	if feed.Releases[1].Time.Format(time.DateOnly) != "2026-11-18" || !feed.Releases[0].Time.IsZero() {
		t.Fatalf("times: %+v", feed.Releases)
	}
}

// Garbage, errors and silence from a proxy are errors that name it, with
// any password in its URL redacted; never an empty feed.
func TestFetchNamesAFailingProxy(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>captive portal</body></html>"))
	}))
	defer garbage.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer failing.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	for name, base := range map[string]string{
		"garbage": garbage.URL,
		"403":     failing.URL,
		"silent":  strings.Replace(hang.URL, "http://", "http://user:s3cret@", 1),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		feed, err := (&Fetcher{Proxy: Proxy{URLs: []string{base}}}).Fetch(ctx)
		cancel()
		if err == nil || feed != nil {
			t.Errorf("%s: feed %v, err %v", name, feed, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimPrefix(base, "http://user:s3cret@"), "http://")) {
			t.Errorf("%s: the error must name the proxy without its password: %v", name, err)
		}
	}
}

func TestFeedCacheRoundTripAndDamage(t *testing.T) {
	c := FeedCache{Path: filepath.Join(t.TempDir(), "catalog", "releases.json")}
	if f, err := c.Load(); f != nil || err != nil {
		t.Fatalf("missing cache: %v %v", f, err)
	}
	in := &Feed{Proxy: "https://proxy.golang.org", Fetched: time.Now().UTC().Truncate(time.Second), Releases: []Published{{Version: "3.6.17"}, {Version: "bogus"}}}
	if err := c.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := c.Load()
	if err != nil || len(out.Releases) != 1 || !out.Fetched.Equal(in.Fetched) {
		t.Fatalf("load: %+v %v", out, err)
	}
	os.WriteFile(c.Path, []byte("{"), 0o644)
	if _, err := c.Load(); err == nil || !strings.Contains(err.Error(), c.Path) {
		t.Fatalf("damaged cache: %v", err)
	}
}

// The real module proxy (the user's GOPROXY): etcd's newest patches are
// there with their publication times, and the merged catalog plans to
// them.
func TestFetchFromTheModuleProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the module proxy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, _ := Default()
	known := map[string]bool{}
	for _, r := range base.Releases {
		known[r.Version] = r.Date != ""
	}
	feed, err := (&Fetcher{Proxy: ProxyFromEnv(os.Getenv), Known: known}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, r := range feed.Releases {
		got[r.Version] = r.Time
	}
	for _, v := range []string{"3.5.36", "3.6.17", "3.7.3", "3.7.0-rc.0"} {
		if _, ok := got[v]; !ok {
			t.Errorf("%s missing from %s", v, feed.Proxy)
		}
	}
	merged := base.WithFeed(feed)
	if v, _ := merged.Resolve("3.6"); !strings.HasPrefix(v, "3.6.") {
		t.Errorf("3.6 resolves to %s", v)
	}
	t.Logf("%s: %d releases, %d new to the notes (%v), %d lines skipped", feed.Proxy, len(feed.Releases), len(merged.Fresh.New), merged.Fresh.New, feed.Skipped)
}
