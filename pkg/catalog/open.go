package catalog

import (
	"context"
	"fmt"
	"os"
	"time"
)

// DefaultMaxAge is how long a cached release list is used before the
// module proxy is asked again.
const DefaultMaxAge = 6 * time.Hour

// OpenOptions say where the catalog comes from.
type OpenOptions struct {
	// File replaces the compiled-in notes (--catalog).
	File string
	// Cache is the release list kept under the state directory.
	Cache FeedCache
	// Offline never asks the proxy: the cache and the notes only.
	Offline bool
	// Refresh asks the proxy whatever the cache's age (catalog update),
	// and fails when it does not answer.
	Refresh bool
	MaxAge  time.Duration
	Proxy   Proxy
	// Timeout bounds the proxy's answer (default 10s).
	Timeout time.Duration
	Now     time.Time
}

// Open returns the notes merged with the freshest release list: the
// cache when young enough, else the proxy's (then cached); when the proxy
// fails, the cache however old, else the notes alone, with a warning that
// names the proxy. It never returns an empty catalog, and errors only on
// notes that do not load (or, with Refresh, a proxy that fails).
func Open(ctx context.Context, o OpenOptions) (*Catalog, error) {
	base, err := notes(o.File)
	if err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	cached, cacheErr := o.Cache.Load()
	var warning string
	if cacheErr != nil {
		warning = fmt.Sprintf("the cached release list is unreadable (%v): ignored", cacheErr)
		cached = nil
	}
	fresh := cached != nil && o.Now.Sub(cached.Fetched) < o.MaxAge
	feed := cached
	switch {
	case o.Offline:
	case fresh && !o.Refresh:
	default:
		got, err := fetch(ctx, o, base)
		switch {
		case err == nil:
			feed = got
			if serr := o.Cache.Save(got); serr != nil {
				warning = join(warning, fmt.Sprintf("the release list could not be cached at %s: %v", o.Cache.Path, serr))
			}
		case o.Refresh:
			return nil, fmt.Errorf("the module proxy did not give etcd's release list: %w (set GOPROXY to a proxy that serves go.etcd.io; other commands go on with the cached or compiled-in list)", err)
		default:
			warning = join(warning, fmt.Sprintf("the module proxy did not give etcd's release list (%v): %s", err, fallback(cached, base, o.Now)))
		}
	}
	c := base.WithFeed(feed)
	c.Fresh.Offline = o.Offline
	c.Fresh.Warning = warning
	return c, nil
}

func notes(file string) (*Catalog, error) {
	if file != "" {
		return Load(file)
	}
	return Default()
}

func fetch(ctx context.Context, o OpenOptions, base *Catalog) (*Feed, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	known := map[string]bool{}
	for _, r := range base.Releases {
		known[r.Version] = r.Date != ""
	}
	return (&Fetcher{Proxy: o.Proxy, Known: known}).Fetch(ctx)
}

// fallback says what is used instead of the proxy's list.
func fallback(cached *Feed, base *Catalog, now time.Time) string {
	if cached != nil {
		return fmt.Sprintf("using the list cached %s ago from %s", ago(now.Sub(cached.Fetched)), cached.Proxy)
	}
	return fmt.Sprintf("using the compiled-in list of %s (%s old); etcdpilot catalog update refreshes it", base.Updated, days(now.Sub(mustDate(base.Updated))))
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// OfflineFromEnv reads ETCDPILOT_OFFLINE (1, true or yes).
func OfflineFromEnv() bool {
	switch os.Getenv("ETCDPILOT_OFFLINE") {
	case "1", "true", "yes":
		return true
	}
	return false
}
