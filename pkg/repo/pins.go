// Package repo finds the places where a repository pins an etcd version —
// Go constants and maps, manifests and Helm values, Dockerfiles, Makefiles
// and shell, CI workflows, go.mod, a dependencies.yaml inventory — and
// bumps them all consistently, changing only the version text.
package repo

import (
	"regexp"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Kinds of pins.
const (
	KindImage     = "image"      // registry.k8s.io/etcd:3.5.21-0
	KindImageTag  = "image-tag"  // Helm values: tag under an etcd repository
	KindVariable  = "variable"   // ETCD_VERSION=..., etcdVersion: ..., ARG ETCD_VERSION=...
	KindGoConst   = "go-const"   // DefaultEtcdVersion = "3.5.21-0"
	KindGoMap     = "go-map"     // SupportedEtcdVersion = map[uint8]string{31: "3.5.21-0"}
	KindGoMod     = "go.mod"     // go.etcd.io/etcd/client/v3 v3.5.21
	KindInventory = "dependency" // build/dependencies.yaml: name: etcd ... version: 3.5.21
	// KindMinimum is a floor, not a pin (MinExternalEtcdVersion): reported,
	// never bumped, not compared.
	KindMinimum = "minimum"
)

// kindFor turns a named pin into a minimum when its name says so.
func kindFor(name, kind string) string {
	if strings.Contains(strings.ToLower(name), "min") {
		return KindMinimum
	}
	return kind
}

// Pin is one pinned etcd version.
type Pin struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Start and End are the byte offsets of the version text in the line,
	// including a "v" prefix and a "-N" build suffix when present.
	Start   int    `json:"-"`
	End     int    `json:"-"`
	Text    string `json:"text"`    // the version text as written: v3.5.21, 3.5.21-0
	Version string `json:"version"` // the etcd version: 3.5.21
	Kind    string `json:"kind"`
	Module  string `json:"module,omitempty"` // go.mod: the module path
	// Disagrees is set when this pin differs from the repository's most
	// common etcd server version (go.mod pins are compared among
	// themselves).
	Disagrees bool `json:"disagrees"`
}

// ver matches an etcd version as pins write it: optional v, x.y.z,
// optional build suffix -N (image tags) — but not a longer version.
const ver = `v?3\.\d+\.\d+(?:-\d+)?`

var (
	// An image whose last path component is etcd.
	imageRe = regexp.MustCompile(`(?:^|[\s"'=:(\[,])((?:[\w.-]+(?::\d+)?/)*etcd):(` + ver + `)\b`)
	// A variable, key or argument whose name says etcd version.
	variableRe = regexp.MustCompile(`(?i)\b(\w*etcd\w*?[_-]?(?:version|tag|ver))\b["']?\s*(?:\??[:=]|:-|\s)\s*["']?(` + ver + `)\b`)
	// Go: const or var assignment to a name that says etcd version.
	goConstRe = regexp.MustCompile(`(?i)\b(\w*etcd\w*version\w*)\s*(?:[\w.\[\]]+\s*)?=\s*"(` + ver + `)"`)
	// Go: the start of a map literal held by a name that says etcd version.
	goMapStartRe = regexp.MustCompile(`(?i)\b\w*etcd\w*version\w*\s*=\s*map\[`)
	goMapEntryRe = regexp.MustCompile(`:\s*"(` + ver + `)"`)
	// go.mod: etcd modules (current and legacy paths).
	goModRe = regexp.MustCompile(`((?:go\.etcd\.io/etcd|github\.com/coreos/etcd)(?:/[\w.-]+)*)\s+(v3\.\d+\.\d+(?:\+incompatible)?)\b`)
	// Helm-style values: a repository line naming etcd, then a tag.
	repoLineRe = regexp.MustCompile(`^\s*repository:\s*["']?[\w./:-]*/?etcd["']?\s*$`)
	tagLineRe  = regexp.MustCompile(`^\s*tag:\s*["']?(` + ver + `)["']?\s*$`)
	// dependencies.yaml.
	depNameRe    = regexp.MustCompile(`^\s*-?\s*name:\s*["']?([\w./-]+)["']?\s*$`)
	depVersionRe = regexp.MustCompile(`^\s*version:\s*["']?(` + ver + `)["']?\s*$`)
)

// etcdVersion reduces a pin's text to the etcd version: no v, no -N.
func etcdVersion(text string) string {
	text = strings.TrimPrefix(text, "v")
	text = strings.TrimSuffix(text, "+incompatible")
	if i := strings.IndexByte(text, '-'); i >= 0 {
		text = text[:i]
	}
	return text
}

// isEtcdDependency says whether a dependencies.yaml entry name is etcd's.
func isEtcdDependency(name string) bool {
	n := strings.ToLower(name)
	return n == "etcd" || strings.HasPrefix(n, "etcd-") || strings.HasPrefix(n, "etcd ") || strings.HasSuffix(n, "/etcd")
}

// scanLines finds the pins in one file's lines.
func scanLines(file string, lines []string) []Pin {
	var pins []Pin
	seen := map[[2]int]bool{} // line, start: one pin per position
	add := func(line, start, end int, kind, module string) {
		if seen[[2]int{line, start}] {
			return
		}
		text := lines[line][start:end]
		v := etcdVersion(text)
		if _, err := version.Canonical(v); err != nil {
			return
		}
		seen[[2]int{line, start}] = true
		pins = append(pins, Pin{File: file, Line: line + 1, Start: start, End: end, Text: text, Version: v, Kind: kind, Module: module})
	}
	base := baseName(file)
	isGo := strings.HasSuffix(base, ".go")
	isGoMod := base == "go.mod"
	isDeps := base == "dependencies.yaml" || base == "dependencies.yml"
	inMap := false
	depName := ""
	repoEtcd := -10
	for i, l := range lines {
		if !containsEtcd(l) && !inMap && depName == "" && repoEtcd < i-3 && !(isDeps && strings.Contains(l, "version")) && !strings.Contains(l, "tag:") {
			continue
		}
		if isGoMod {
			for _, m := range goModRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], KindGoMod, l[m[2]:m[3]])
			}
			continue
		}
		if isDeps {
			if m := depNameRe.FindStringSubmatch(l); m != nil {
				depName = ""
				if isEtcdDependency(m[1]) {
					depName = m[1]
				}
			} else if m := depVersionRe.FindStringSubmatchIndex(l); m != nil && depName != "" {
				add(i, m[2], m[3], KindInventory, "")
				depName = ""
			}
		}
		if isGo {
			if goMapStartRe.MatchString(l) {
				inMap = !strings.Contains(l[goMapStartRe.FindStringIndex(l)[1]:], "}")
				for _, m := range goMapEntryRe.FindAllStringSubmatchIndex(l, -1) {
					add(i, m[2], m[3], KindGoMap, "")
				}
			} else if inMap {
				for _, m := range goMapEntryRe.FindAllStringSubmatchIndex(l, -1) {
					add(i, m[2], m[3], KindGoMap, "")
				}
				if strings.Contains(l, "}") {
					inMap = false
				}
			}
			for _, m := range goConstRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], kindFor(l[m[2]:m[3]], KindGoConst), "")
			}
		}
		if repoLineRe.MatchString(l) {
			repoEtcd = i
		} else if m := tagLineRe.FindStringSubmatchIndex(l); m != nil && i-repoEtcd <= 3 {
			add(i, m[2], m[3], KindImageTag, "")
		}
		for _, m := range imageRe.FindAllStringSubmatchIndex(l, -1) {
			add(i, m[4], m[5], KindImage, "")
		}
		if !isGo {
			for _, m := range variableRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], kindFor(l[m[2]:m[3]], KindVariable), "")
			}
		}
	}
	return pins
}

func containsEtcd(s string) bool {
	return strings.Contains(s, "etcd") || strings.Contains(s, "ETCD") || strings.Contains(s, "Etcd")
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
