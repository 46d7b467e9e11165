package sandbox

import (
	"encoding/json"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Summary is one sandbox in a listing.
type Summary struct {
	Name      string   `json:"name"`
	Members   int      `json:"members"`
	Running   int      `json:"running"`
	Versions  []string `json:"versions"`
	TLS       bool     `json:"tls"`
	Endpoints []string `json:"endpoints"`
	Dir       string   `json:"dir"`
	// Error says why the sandbox could not be read.
	Error string `json:"error,omitempty"`
}

// Listing is every sandbox under a state directory.
type Listing []Summary

// Summaries lists the sandboxes under root; one that cannot be read is
// listed with its error, so that it does not hide the others.
func Summaries(root string) (Listing, error) {
	names, err := List(root)
	if err != nil {
		return nil, err
	}
	out := Listing{}
	for _, n := range names {
		sb, err := Open(root, n, nil)
		if err != nil {
			out = append(out, Summary{Name: n, Error: err.Error()})
			continue
		}
		st, err := sb.State()
		if err != nil {
			out = append(out, Summary{Name: n, Dir: sb.Dir, Error: err.Error()})
			continue
		}
		s := Summary{Name: n, Members: len(st.Members), TLS: st.TLS != nil, Endpoints: st.Endpoints(), Dir: sb.Dir}
		for _, m := range st.Members {
			s.Versions = append(s.Versions, version.Plain(m.Version))
			if m.Running() {
				s.Running++
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// EnvVars are the ETCDCTL_* variables of a sandbox, in order.
type EnvVars [][2]string

// Removed reports a sandbox that sandbox down removed.
type Removed struct {
	Name string `json:"removed"`
}

// MarshalJSON writes the variables as one object.
func (e EnvVars) MarshalJSON() ([]byte, error) {
	m := map[string]string{}
	for _, kv := range e {
		m[kv[0]] = kv[1]
	}
	return json.Marshal(m)
}
