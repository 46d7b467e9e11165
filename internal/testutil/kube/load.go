package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// APILoad writes ConfigMaps through the API server and watches them as a
// Kubernetes reflector does (list, then watch from the list's
// resourceVersion, re-watching from the last event seen, re-listing when
// told the version is too old).
type APILoad struct {
	API       *APIServer
	Namespace string
	Rate      int // writes per second

	mu        sync.Mutex
	acked     map[string]bool // resourceVersions the server acknowledged
	seen      map[string]bool // resourceVersions a watch delivered
	failed    int
	latencies []time.Duration
	relists   int
	rewatches int
	maxRV     int64
	backwards []string
}

// APIReport is what the load saw.
type APIReport struct {
	Writes, Failed     int
	P99, Max           time.Duration
	Missed             int // acknowledged writes no watch delivered
	Relists, Rewatches int
	WentBack           []string // objects seen at an older resourceVersion than before
}

func (r APIReport) String() string {
	return fmt.Sprintf("API writes %d (%d failed), latency p99 %s max %s; watch: %d missed events, %d re-watches, %d re-lists",
		r.Writes, r.Failed, r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond), r.Missed, r.Rewatches, r.Relists)
}

// Run writes and watches until ctx ends, then waits for the watch to
// deliver what was acknowledged (up to 10 s) and reports.
func (l *APILoad) Run(ctx context.Context) APIReport {
	l.acked, l.seen = map[string]bool{}, map[string]bool{}
	ns := l.Namespace
	l.API.Do(context.Background(), http.MethodPost, "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	wctx, stopWatch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); l.watch(wctx) }()
	tick := time.NewTicker(time.Second / time.Duration(l.Rate))
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
			l.write(i)
		}
	}
	tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && l.missed() > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := APIReport{Writes: len(l.latencies) + l.failed, Failed: l.failed, Relists: l.relists, Rewatches: l.rewatches, WentBack: l.backwards}
	sort.Slice(l.latencies, func(i, j int) bool { return l.latencies[i] < l.latencies[j] })
	if n := len(l.latencies); n > 0 {
		r.P99, r.Max = l.latencies[n*99/100], l.latencies[n-1]
	}
	for rv := range l.acked {
		if !l.seen[rv] {
			r.Missed++
		}
	}
	return r
}

func (l *APILoad) missed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for rv := range l.acked {
		if !l.seen[rv] {
			n++
		}
	}
	return n
}

// write creates or updates one of 20 ConfigMaps.
func (l *APILoad) write(i int) {
	name := fmt.Sprintf("cm-%02d", i%20)
	body := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": map[string]string{"i": strconv.Itoa(i)}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	path := "/api/v1/namespaces/" + l.Namespace + "/configmaps"
	code, data, err := l.API.Do(ctx, http.MethodPut, path+"/"+name, body)
	if err == nil && code == http.StatusNotFound {
		code, data, err = l.API.Do(ctx, http.MethodPost, path, body)
	}
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || code >= 300 {
		l.failed++
		return
	}
	var obj struct {
		Metadata struct{ ResourceVersion string } `json:"metadata"`
	}
	json.Unmarshal(data, &obj)
	l.acked[obj.Metadata.ResourceVersion] = true
	l.latencies = append(l.latencies, took)
}

// watch lists, then watches from the list's version; a watch that ends is
// resumed from the last version seen; "too old" (410) re-lists.
func (l *APILoad) watch(ctx context.Context) {
	path := "/api/v1/namespaces/" + l.Namespace + "/configmaps"
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			code, data, err := l.API.Do(ctx, http.MethodGet, path, nil)
			if err != nil || code != 200 {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			var list struct {
				Metadata struct{ ResourceVersion string } `json:"metadata"`
			}
			json.Unmarshal(data, &list)
			rv = list.Metadata.ResourceVersion
			l.mu.Lock()
			l.relists++
			l.mu.Unlock()
		}
		resp, err := l.API.Stream(ctx, path+"?watch=1&allowWatchBookmarks=false&resourceVersion="+rv)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if resp.StatusCode == http.StatusGone {
			rv = ""
			resp.Body.Close()
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				Type   string `json:"type"`
				Object struct {
					Code     int `json:"code"`
					Metadata struct {
						Name            string `json:"name"`
						ResourceVersion string `json:"resourceVersion"`
					} `json:"metadata"`
				} `json:"object"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if ev.Type == "ERROR" {
				if ev.Object.Code == http.StatusGone {
					rv = ""
				}
				break
			}
			got := ev.Object.Metadata.ResourceVersion
			l.mu.Lock()
			l.seen[got] = true
			if n, err := strconv.ParseInt(got, 10, 64); err == nil {
				if n < l.maxRV {
					l.backwards = append(l.backwards, fmt.Sprintf("%s at %d after %d", ev.Object.Metadata.Name, n, l.maxRV))
				}
				l.maxRV = max(l.maxRV, n)
			}
			l.mu.Unlock()
			rv = got
		}
		resp.Body.Close()
		l.mu.Lock()
		l.rewatches++
		l.mu.Unlock()
	}
}
