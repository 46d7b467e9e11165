package catalog

import "slices"

// Parts of etcd an advisory can affect.
const (
	PartServer  = "server"  // the etcd server (and go.etcd.io/etcd/server/v3, embed)
	PartClient  = "client"  // the client/v3 library
	PartEtcdctl = "etcdctl" // the etcdctl binary
	PartEtcdutl = "etcdutl" // the etcdutl binary
	// PartBuild is every binary and module: a dependency built into all.
	PartBuild = "build"
)

// Operations during which a known issue bites.
const (
	OpMemberAdd       = "member-add"
	OpMemberUpdate    = "member-update"
	OpForceNewCluster = "force-new-cluster"
	OpDowngrade       = "downgrade"
	OpDefrag          = "defrag"
	OpUpgrade         = "upgrade"
)

// Auth states of a cluster, as far as a reader knows.
const (
	AuthUnknown = ""
	AuthOn      = "on"
	AuthOff     = "off"
)

// Scope is what a reader runs: the parts of etcd in use (empty: all) and
// whether the cluster has etcd's auth on.
type Scope struct {
	Parts []string
	Auth  string
}

// ServerScope is a cluster's: the server binaries, auth as given.
func ServerScope(auth string) Scope {
	return Scope{Parts: []string{PartServer, PartEtcdctl, PartEtcdutl}, Auth: auth}
}

func (s Scope) covers(affects []string) bool {
	if len(s.Parts) == 0 || len(affects) == 0 {
		return true
	}
	for _, a := range affects {
		if a == PartBuild || slices.Contains(s.Parts, a) {
			return true
		}
	}
	return false
}

// AppliesTo reports whether the CVE concerns a reader of scope s: a part
// it runs, and auth on (or unknown) for an auth-only one.
func (c CVE) AppliesTo(s Scope) bool {
	return s.covers(c.parts()) && !(c.AuthOnly && s.Auth == AuthOff)
}

func (c CVE) parts() []string {
	if len(c.Affects) == 0 {
		return []string{PartServer}
	}
	return c.Affects
}

// AppliesTo reports whether the issue concerns a reader of scope s.
func (is Issue) AppliesTo(s Scope) bool {
	a := is.Affects
	if len(a) == 0 {
		a = []string{PartServer}
	}
	return s.covers(a)
}

// Bites reports whether the issue bites during op.
func (is Issue) Bites(op string) bool { return slices.Contains(is.Ops, op) }

// CVEsFor lists the CVEs affecting v that concern scope s, and how many
// affect v but were left out (auth off, a part not in use).
func (c *Catalog) CVEsFor(v string, s Scope) (applies []CVE, skipped int) {
	for _, cv := range c.CVEsAffecting(v) {
		if cv.AppliesTo(s) {
			applies = append(applies, cv)
		} else {
			skipped++
		}
	}
	return applies, skipped
}

// IssuesFor lists the known issues affecting v that concern scope s.
func (c *Catalog) IssuesFor(v string, s Scope) []Issue {
	var out []Issue
	for _, is := range c.IssuesAffecting(v) {
		if is.AppliesTo(s) {
			out = append(out, is)
		}
	}
	return out
}

// IssuesDuring lists the known issues of v that bite during op.
func (c *Catalog) IssuesDuring(v, op string) []Issue {
	var out []Issue
	for _, is := range c.IssuesAffecting(v) {
		if is.Bites(op) {
			out = append(out, is)
		}
	}
	return out
}

// Parts is a readable list of what an advisory affects.
func (c CVE) Parts() []string { return c.parts() }
