package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// FeedModules are the etcd modules whose version lists make up etcd's
// releases on the Go module proxy. One list alone can miss a release (a
// proxy mirror that was never asked for it), so the feed takes their union.
var FeedModules = []string{
	"go.etcd.io/etcd/server/v3",
	"go.etcd.io/etcd/client/v3",
	"go.etcd.io/etcd/api/v3",
	"go.etcd.io/etcd/client/pkg/v3",
	"go.etcd.io/etcd/pkg/v3",
	"go.etcd.io/etcd/etcdutl/v3",
	"go.etcd.io/etcd/etcdctl/v3",
}

// Feed is what the Go module proxy publishes of etcd's releases: every
// tagged version of its modules and when it was published.
type Feed struct {
	Proxy    string      `json:"proxy"`
	Fetched  time.Time   `json:"fetched"`
	Releases []Published `json:"releases"`
	// Skipped counts lines of the version lists that were not release
	// versions (garbage, pseudo-versions).
	Skipped int `json:"skipped,omitempty"`
}

// Published is one release on the proxy.
type Published struct {
	Version string    `json:"version"` // "3.6.17", "3.7.0-rc.0"
	Time    time.Time `json:"time,omitempty"`
}

// Proxy settings, as the go command reads them.
type Proxy struct {
	// URLs in order; "direct" and "off" are kept as given.
	URLs []string
	// Private is set when GONOPROXY/GOPRIVATE keeps go.etcd.io off the
	// proxies.
	Private string
}

// ProxyFromEnv reads GOPROXY, GONOPROXY and GOPRIVATE from the
// environment (the go command's defaults when unset).
func ProxyFromEnv(getenv func(string) string) Proxy {
	raw := getenv("GOPROXY")
	if raw == "" {
		raw = "https://proxy.golang.org,direct"
	}
	var p Proxy
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == '|' }) {
		if part = strings.TrimSpace(part); part != "" {
			p.URLs = append(p.URLs, strings.TrimRight(part, "/"))
		}
	}
	noproxy := getenv("GONOPROXY")
	if noproxy == "" {
		noproxy = getenv("GOPRIVATE")
	}
	if noproxy != "" && module.MatchPrefixPatterns(noproxy, "go.etcd.io/etcd/server/v3") {
		p.Private = noproxy
	}
	return p
}

// Usable returns the proxy URLs the feed can ask, or why there is none.
func (p Proxy) Usable() ([]string, error) {
	if p.Private != "" {
		return nil, fmt.Errorf("GONOPROXY/GOPRIVATE=%s keeps go.etcd.io off the module proxy", p.Private)
	}
	var out []string
	for _, u := range p.URLs {
		switch {
		case u == "off":
			if len(out) == 0 {
				return nil, errors.New("GOPROXY=off")
			}
			return out, nil
		case u == "direct":
			// The go command would clone the repository; the feed does
			// not, and tries the next entry.
		case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "file://"):
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GOPROXY=%s names no proxy (only direct)", strings.Join(p.URLs, ","))
	}
	return out, nil
}

// Fetcher reads the feed from a module proxy.
type Fetcher struct {
	Proxy  Proxy
	Client *http.Client
	// Known versions already have a date: their .info is not fetched.
	Known map[string]bool
}

// maxBody bounds what one proxy answer may be: a version list of etcd is
// a few kilobytes.
const maxBody = 1 << 20

// Fetch reads every etcd module's version list from the first proxy that
// answers, and the publication time of each version not yet known. A
// proxy that answers garbage or nothing is an error that names it; what
// it sends that is not a release version is skipped.
func (f *Fetcher) Fetch(ctx context.Context) (*Feed, error) {
	urls, err := f.Proxy.Usable()
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, base := range urls {
		feed, err := f.fetchFrom(ctx, base)
		if err == nil {
			return feed, nil
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

func (f *Fetcher) fetchFrom(ctx context.Context, base string) (*Feed, error) {
	type listing struct {
		module string
		lines  []string
		err    error
	}
	lists := make([]listing, len(FeedModules))
	var wg sync.WaitGroup
	for i, m := range FeedModules {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := f.get(ctx, base, m, "@v/list")
			lists[i] = listing{module: m, lines: strings.Split(string(b), "\n"), err: err}
		}()
	}
	wg.Wait()
	feed := &Feed{Proxy: redactURL(base), Fetched: time.Now().UTC()}
	from := map[string]string{} // version -> a module that lists it
	var failed []string
	for _, l := range lists {
		if l.err != nil {
			failed = append(failed, l.err.Error())
			continue
		}
		for _, line := range l.lines {
			v, ok := releaseVersion(line)
			if !ok {
				if strings.TrimSpace(line) != "" {
					feed.Skipped++
				}
				continue
			}
			if _, seen := from[v]; !seen {
				from[v] = l.module
			}
		}
	}
	if len(from) == 0 {
		if len(failed) > 0 {
			return nil, fmt.Errorf("module proxy %s: %s", redactURL(base), failed[0])
		}
		return nil, fmt.Errorf("module proxy %s listed no etcd release (%d lines that are not versions)", redactURL(base), feed.Skipped)
	}
	times := f.infoTimes(ctx, base, from)
	for v := range from {
		feed.Releases = append(feed.Releases, Published{Version: v, Time: times[v]})
	}
	sort.Slice(feed.Releases, func(i, j int) bool { return version.Compare(feed.Releases[i].Version, feed.Releases[j].Version) < 0 })
	return feed, nil
}

// infoTimes reads the publication time of every version not already
// known, eight at a time; a version whose .info fails keeps no time.
func (f *Fetcher) infoTimes(ctx context.Context, base string, from map[string]string) map[string]time.Time {
	out := map[string]time.Time{}
	var mu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for v, m := range from {
		if f.Known[v] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := f.get(ctx, base, m, "@v/v"+v+".info")
			if err != nil {
				return
			}
			var info struct{ Time time.Time }
			if json.Unmarshal(b, &info) == nil && !info.Time.IsZero() {
				mu.Lock()
				out[v] = info.Time.UTC()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// releaseVersion accepts a tagged etcd 3.x release or pre-release from a
// version list line, without the "v"; pseudo-versions and other majors
// are not releases.
func releaseVersion(line string) (string, bool) {
	v := strings.TrimSpace(line)
	if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Build(v) != "" || module.IsPseudoVersion(v) || semver.Major(v) != "v3" {
		return "", false
	}
	return version.Plain(v), true
}

func (f *Fetcher) get(ctx context.Context, base, mod, suffix string) ([]byte, error) {
	esc, err := module.EscapePath(mod)
	if err != nil {
		return nil, err
	}
	target := base + "/" + esc + "/" + suffix
	if strings.HasPrefix(base, "file://") {
		b, err := os.ReadFile(filepath.FromSlash(strings.TrimPrefix(target, "file://")))
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mod, redactErr(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mod, redactErr(err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", mod, resp.Status)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", mod, maxBody)
	}
	return b, nil
}

// redactURL drops a password from a proxy URL (GOPROXY may carry one).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

// FeedCache is the feed kept under the state directory.
type FeedCache struct{ Path string }

// CachePath is where the feed is kept under a state directory.
func CachePath(stateDir string) string { return filepath.Join(stateDir, "catalog", "releases.json") }

// Load reads the cached feed; a missing file is (nil, nil), a damaged one
// an error.
func (c FeedCache) Load() (*Feed, error) {
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f Feed
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", c.Path, err)
	}
	var keep []Published
	for _, r := range f.Releases {
		if _, ok := releaseVersion("v" + r.Version); ok {
			keep = append(keep, r)
		}
	}
	f.Releases = keep
	return &f, nil
}

// Save writes the feed atomically.
func (c FeedCache) Save(f *Feed) error {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(c.Path, b, 0o644)
}
