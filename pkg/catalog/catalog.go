// Package catalog is etcdpilot's release catalog: every etcd release from
// 3.4.0, end of life per minor, the minimum version for each minor hop, known
// issues and CVEs with their fixed-in versions, flags removed or renamed per
// minor, and the Kubernetes mapping. The data lives in catalog.yaml, embedded
// in the binary and validated when loaded; --catalog FILE replaces it.
package catalog

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

//go:embed catalog.yaml
var embedded []byte

// Catalog is the parsed data file.
type Catalog struct {
	Schema     int        `yaml:"schema" json:"schema"`
	Updated    string     `yaml:"updated" json:"updated"`
	Minors     []Minor    `yaml:"minors" json:"minors"`
	Releases   []Release  `yaml:"releases" json:"releases"`
	Hops       []Hop      `yaml:"hops" json:"hops"`
	Issues     []Issue    `yaml:"issues" json:"issues"`
	CVEs       []CVE      `yaml:"cves" json:"cves"`
	Flags      []Flag     `yaml:"flags" json:"flags"`
	Kubernetes Kubernetes `yaml:"kubernetes" json:"kubernetes"`
	// Fresh says how old the knowledge is (not part of the data file).
	Fresh Freshness `yaml:"-" json:"freshness"`
	// Outdated lists versions in use that have a newer patch (set by
	// whoever shows the catalog).
	Outdated []Outdated `yaml:"-" json:"outdated,omitempty"`

	file  string
	lines map[string][]int // top-level list name -> line of each entry
}

// Minor is one minor release line.
type Minor struct {
	Minor    string `yaml:"minor" json:"minor"`
	Released string `yaml:"released" json:"released"`
	EOL      string `yaml:"eol,omitempty" json:"eol,omitempty"`
	Latest   string `yaml:"latest" json:"latest"`
	// ProductionMinimum is the lowest patch etcd recommends for production.
	ProductionMinimum string `yaml:"productionMinimum,omitempty" json:"productionMinimum,omitempty"`
	Note              string `yaml:"note,omitempty" json:"note,omitempty"`
	Link              string `yaml:"link,omitempty" json:"link,omitempty"`
	// Unknown marks a minor only the module proxy knows: no rules.
	Unknown bool `yaml:"-" json:"noRules,omitempty"`
}

// Release is one published version.
type Release struct {
	Version string `yaml:"version" json:"version"`
	Date    string `yaml:"date,omitempty" json:"date,omitempty"`
	// NotesUnknown marks a release published after the notes were
	// reviewed (it came from the module proxy).
	NotesUnknown bool `yaml:"-" json:"notesUnknown,omitempty"`
}

// Hop is the rule for upgrading from one minor to the next.
type Hop struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Minimum is the lowest version of From that every member must run.
	Minimum string `yaml:"minimum" json:"minimum"`
	// History lists earlier documented minimums, oldest first.
	History []string `yaml:"history,omitempty" json:"history,omitempty"`
	Reason  string   `yaml:"reason" json:"reason"`
	Link    string   `yaml:"link" json:"link"`
	// Checks are what etcd asks operators to run before the hop.
	Checks []string `yaml:"checks,omitempty" json:"checks,omitempty"`
}

// Range is the affected range of an issue or CVE in one minor.
type Range struct {
	Minor string `yaml:"minor" json:"minor"`
	// Introduced is the first affected version (default MINOR.0).
	Introduced string `yaml:"introduced,omitempty" json:"introduced,omitempty"`
	// Fixed is the first fixed version; empty means not fixed in this minor.
	Fixed string `yaml:"fixed,omitempty" json:"fixed,omitempty"`
}

// Issue is a known bug.
type Issue struct {
	ID       string  `yaml:"id" json:"id"`
	Title    string  `yaml:"title" json:"title"`
	Severity string  `yaml:"severity" json:"severity"`
	Affected []Range `yaml:"affected" json:"affected"`
	Link     string  `yaml:"link" json:"link"`
	// Upgrade marks bugs that bite during an upgrade or membership change.
	Upgrade bool `yaml:"upgrade,omitempty" json:"upgrade,omitempty"`
	// Affects names the parts of etcd that carry the bug (default server).
	Affects []string `yaml:"affects,omitempty" json:"affects,omitempty"`
	// Ops names the operations during which it bites (Op*); the commands
	// that run one look them up.
	Ops []string `yaml:"ops,omitempty" json:"ops,omitempty"`
	// Condition is what a cluster must do to be exposed, when not all are.
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty"`
	// Source says where the affected range was checked.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
}

// CVE is a published vulnerability.
type CVE struct {
	ID       string  `yaml:"id" json:"id"`
	GHSA     string  `yaml:"ghsa,omitempty" json:"ghsa,omitempty"`
	Title    string  `yaml:"title" json:"title"`
	Severity string  `yaml:"severity" json:"severity"`
	Rating   string  `yaml:"rating,omitempty" json:"rating,omitempty"`
	Affected []Range `yaml:"affected" json:"affected"`
	Link     string  `yaml:"link" json:"link"`
	// Affects names the parts of etcd that carry it: server, client
	// (the client/v3 library), etcdctl, etcdutl, or build (every binary
	// and module: a dependency such as grpc).
	Affects []string `yaml:"affects,omitempty" json:"affects"`
	// AuthOnly: exploitable only on clusters with etcd's auth enabled
	// (Kubernetes does not enable it).
	AuthOnly bool `yaml:"authOnly,omitempty" json:"authOnly,omitempty"`
	// Condition is a configuration it needs, when it needs one.
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty"`
	Source    string `yaml:"source,omitempty" json:"source,omitempty"`
}

// Flag is a server flag that a minor removed or renamed.
type Flag struct {
	Flag         string `yaml:"flag" json:"flag"`
	DeprecatedIn string `yaml:"deprecatedIn,omitempty" json:"deprecatedIn,omitempty"`
	RemovedIn    string `yaml:"removedIn,omitempty" json:"removedIn,omitempty"`
	// Replacement is the flag to use instead ("--x" or "--feature-gates=X=true");
	// empty when there is none.
	Replacement string `yaml:"replacement,omitempty" json:"replacement,omitempty"`
	Note        string `yaml:"note,omitempty" json:"note,omitempty"`
	Link        string `yaml:"link,omitempty" json:"link,omitempty"`
	// AddedIn is the minor that introduced a flag (set for flags an older
	// minor does not accept: a downgrade below it must drop them);
	// Older is what that minor accepts instead.
	AddedIn string `yaml:"addedIn,omitempty" json:"addedIn,omitempty"`
	Older   string `yaml:"older,omitempty" json:"older,omitempty"`
	// ConfigKey is the key of an etcd config file (--config-file) when it
	// differs from the flag's name.
	ConfigKey string `yaml:"configKey,omitempty" json:"configKey,omitempty"`
}

// Kubernetes holds the Kubernetes side of the mapping.
type Kubernetes struct {
	Kubeadm []KubeadmEntry `yaml:"kubeadm" json:"kubeadm"`
	Kops    []KopsEntry    `yaml:"kops" json:"kops"`
	Link    string         `yaml:"link,omitempty" json:"link,omitempty"`
}

// KubeadmEntry is kubeadm's etcd for one Kubernetes minor.
type KubeadmEntry struct {
	Kubernetes string `yaml:"kubernetes" json:"kubernetes"`
	// Etcd is kubeadm's default (SupportedEtcdVersion), as an image tag.
	Etcd string `yaml:"etcd" json:"etcd"`
	// MinExternal is kubeadm's MinExternalEtcdVersion.
	MinExternal string `yaml:"minExternal" json:"minExternal"`
	Link        string `yaml:"link,omitempty" json:"link,omitempty"`
}

// KopsEntry is kops' default etcd below a Kubernetes version.
type KopsEntry struct {
	Below string `yaml:"below,omitempty" json:"below,omitempty"` // empty = otherwise
	Etcd  string `yaml:"etcd" json:"etcd"`
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the embedded catalog.
func Default() (*Catalog, error) {
	defaultOnce.Do(func() { defaultCat, defaultErr = Parse("catalog.yaml (embedded)", embedded) })
	return defaultCat, defaultErr
}

// Load reads and validates a catalog file.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse decodes and validates catalog data; errors name the file and line.
func Parse(file string, data []byte) (*Catalog, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	c := &Catalog{file: file, lines: entryLines(&root)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	sort.SliceStable(c.Releases, func(i, j int) bool { return version.Compare(c.Releases[i].Version, c.Releases[j].Version) < 0 })
	c.Fresh.Updated = c.Updated
	return c, nil
}

// entryLines records the line of each entry of each top-level list, so that
// validation errors can point at it.
func entryLines(root *yaml.Node) map[string][]int {
	out := map[string][]int{}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		switch val.Kind {
		case yaml.SequenceNode:
			for _, e := range val.Content {
				out[key] = append(out[key], e.Line)
			}
		case yaml.MappingNode:
			for j := 0; j+1 < len(val.Content); j += 2 {
				sub := val.Content[j+1]
				if sub.Kind == yaml.SequenceNode {
					for _, e := range sub.Content {
						out[key+"."+val.Content[j].Value] = append(out[key+"."+val.Content[j].Value], e.Line)
					}
				}
			}
		}
	}
	return out
}

// errAt formats a validation error at entry i of list.
func (c *Catalog) errAt(list string, i int, format string, args ...any) error {
	line := 0
	if ls := c.lines[list]; i < len(ls) {
		line = ls[i]
	}
	return fmt.Errorf("%s:%d: %s[%d]: %s", c.file, line, list, i, fmt.Sprintf(format, args...))
}
