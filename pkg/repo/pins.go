// Package repo finds the places where a repository pins an etcd version —
// Go constants, maps and struct literals, manifests and templates, Helm
// values, Dockerfiles, Makefiles and shell, CI workflows, go.mod, a
// zeitgeist dependencies.yaml — groups them by etcd minor line, and bumps
// the pins of one line (or those named with --from), changing only the
// version text (and a digest, when one is given for the new tag).
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
	KindVariable  = "variable"   // ETCD_VERSION=..., export ETCD_IMAGE=3.6.8-0, etcdVersion: ...
	KindTemplate  = "template"   // {{ pillar.get('etcd_docker_tag', '3.6.8-0') }}
	KindGoConst   = "go-const"   // DefaultEtcdVersion = "3.5.21-0"
	KindGoMap     = "go-map"     // SupportedEtcdVersion = map[uint8]string{31: "3.5.21-0"}
	KindGoStruct  = "go-struct"  // Config{list.GcEtcdRegistry, "etcd", "3.6.8-0"}
	KindList      = "list"       // BUNDLED_ETCD_VERSIONS?=3.4.18 3.5.21 3.6.4, supportedEtcdVersions = []string{...}
	KindYAML      = "yaml"       // version: 3.6.12 under an etcd key (etcdClusters:)
	KindGoMod     = "go.mod"     // go.etcd.io/etcd/client/v3 v3.5.21
	KindInventory = "dependency" // build/dependencies.yaml: name: etcd ... version: 3.5.21
	// KindChecksum is a key of a checksum table of etcd's release
	// archives (etcd_binary_checksums: amd64: 3.5.27: sha256:...): never
	// renamed; a new release needs an entry of its own.
	KindChecksum = "checksum"
	// KindDocList is a list item of a document naming etcd and the
	// version shipped (README: "- [etcd](https://github.com/etcd-io/etcd) 3.5.27").
	KindDocList = "doc-list"
	// KindFlagDefault is the default a command's help states for a flag
	// naming etcd: --etcd-version semver ... (default v3.6.11) in
	// generated reference docs, "etcd version ... Defaults to 3.5.13" in
	// the flag's own usage text.
	KindFlagDefault = "flag-default"
	// KindComponent is a line naming etcd alone and its version, in a
	// list of components (release notes being prepared: "etcd: 3.7.1",
	// TOML: etcd = "3.5.21").
	KindComponent = "component"
	// KindVersionFile is the whole content of a version file under a
	// path naming etcd (components/etcd/version.sh: echo "v3.6.4").
	KindVersionFile = "version-file"
	KindRefPath     = "ref-path" // a line a dependencies.yaml refPath points at
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
	// Minor is the etcd minor line: 3.5.
	Minor  string `json:"minor"`
	Kind   string `json:"kind"`
	Module string `json:"module,omitempty"` // go.mod: the module path
	// Fork is the module a go.mod replace puts in Module's place; the pin
	// is the fork's version (its own suffix, such as -k3s1, kept).
	Fork string `json:"fork,omitempty"`
	// Image is the repository of an image pin (registry.k8s.io/etcd).
	Image string `json:"image,omitempty"`
	// Digest pins the image by content (sha256:...): a new tag needs a
	// new digest. DigestStart/End locate it in the line.
	Digest      string `json:"digest,omitempty"`
	DigestStart int    `json:"-"`
	DigestEnd   int    `json:"-"`
	// Build is a build of the image's own after the version in its tag
	// (gardener's etcd-custom-image v3.4.13-bootstrap-12): the tag built
	// for another release is not known here, so a bump names it.
	Build string `json:"build,omitempty"`
	// Staging marks an image from a staging registry (k8s-staging-*,
	// *-staging*), not a promoted or release one.
	Staging bool `json:"staging,omitempty"`
	// History marks a pin in release notes, a CHANGELOG or docs prose:
	// reported, never rewritten.
	History bool `json:"history,omitempty"`
	// Example marks a version that is not a pin: in a comment, in a
	// message a script prints (echo), or a Go test's input. Reported,
	// never rewritten.
	Example bool `json:"example,omitempty"`
	// Unreleased marks a test or docs pin at a version the release
	// catalog does not list (kops tests a custom image as 3.6.99): not
	// compared, never rewritten. Set by Result.MarkUnreleased.
	Unreleased bool `json:"unreleased,omitempty"`
	// Test marks a pin under a test path.
	Test bool `json:"test,omitempty"`
	// NewText is what a bump writes in its place.
	NewText string `json:"newText,omitempty"`
	// Disagrees is set when this pin differs from the common version of
	// its line (go.mod's etcd modules are compared among themselves).
	Disagrees bool `json:"disagrees"`
}

// Rewritable says whether a bump may change the pin at all.
func (p Pin) Rewritable() bool {
	return p.Kind != KindMinimum && p.Kind != KindChecksum && !p.History && !p.Example && !p.Unreleased
}

// StagingInUse says whether a pin deploys a staging image: not in tests,
// not in docs (which show custom images on purpose), not history or an
// example. repo check fails on these.
func (p Pin) StagingInUse() bool {
	return p.Staging && p.Rewritable() && !p.Test && !docFile(p.File)
}

// ver matches an etcd version as pins write it: optional v, x.y.z, an
// optional pre-release, optional build suffix -N (image tags) — but not a
// longer version.
const ver = `v?3\.\d+\.\d+(?:-(?:alpha|beta|rc)\.\d+)?(?:-\d+)?`

// build is what an image's own build adds after the version in its tag
// (-bootstrap-12, -r1-20240101): it starts with a letter, unlike the
// -N of registry.k8s.io's images.
const build = `-[A-Za-z][\w.-]*`

var (
	// An image whose last path component is etcd, with an optional digest.
	imageRe = regexp.MustCompile(`(?:^|[\s"'=:(\[,])((?:[\w.-]+(?::\d+)?/)*etcd):(` + ver + `)\b(` + build + `)?(?:@(sha256:[0-9a-fA-F]+))?`)
	// A variable, key or argument whose name says etcd version, tag or image.
	variableRe = regexp.MustCompile(`(?i)\b(\w*etcd\w*?[_-]?(?:version|tag|ver|image)\w*)\b["']?\s*(?:\??[:=]|:-|\s)\s*["']?(` + ver + `)\b`)
	// A template default: pillar.get('etcd_docker_tag', '3.6.8-0').
	templateRe = regexp.MustCompile(`(?i)["'](\w*etcd\w*(?:version|tag|ver|image))["']\s*,\s*["'](` + ver + `)["']`)
	// Go: const or var assignment to a name that says etcd version.
	goConstRe = regexp.MustCompile(`(?i)\b(\w*etcd\w*(?:version|image|tag)\w*)\s*(?:[\w.\[\]]+\s*)?=\s*"(` + ver + `)"`)
	// Go: the start of a map literal held by a name that says etcd version.
	goMapStartRe = regexp.MustCompile(`(?i)\b\w*etcd\w*version\w*\s*=\s*map\[`)
	goMapEntryRe = regexp.MustCompile(`:\s*"(` + ver + `)"`)
	// Go: the start of a slice literal held by a name that says etcd
	// versions; its quoted entries.
	goListStartRe = regexp.MustCompile(`(?i)\b\w*etcd\w*versions\w*\s*:?=\s*\[\]string\{`)
	quotedVerRe   = regexp.MustCompile(`"(` + ver + `)"`)
	// Shell and Makefiles: a list of versions held by a name that says
	// etcd versions.
	listVarRe = regexp.MustCompile(`(?i)\b\w*etcd\w*versions\b["']?\s*(?:\??[:=]|:-)\s*["']?([^#"'\n]*)`)
	// Go: a struct literal naming the etcd image, then its tag.
	goStructRe = regexp.MustCompile(`"etcd"\s*,\s*"(` + ver + `)"`)
	// Go: the version field of a struct literal whose image is etcd's
	// ({Version: "3.5.25", Image: "registry.k8s.io/etcd:v3.5.25"}).
	goVersionFieldRe = regexp.MustCompile(`\bVersion:\s*"(` + ver + `)"`)
	// go.mod: etcd modules (current and legacy paths; client/v2 is v2.3XX.N).
	goModRe = regexp.MustCompile(`((?:go\.etcd\.io/etcd|github\.com/coreos/etcd)(?:/[\w.-]+)*)\s+(v3\.\d+\.\d+(?:\+incompatible)?|v2\.3\d\d\.\d+)\b`)
	// go.mod: an etcd module replaced by a fork at a release of its own
	// (go.etcd.io/etcd/api/v3 => github.com/k3s-io/etcd/api/v3 v3.6.6-k3s1):
	// the fork's version says which etcd is built.
	goModReplaceRe = regexp.MustCompile(`(go\.etcd\.io/etcd(?:/[\w.-]+)*)(?:\s+v\S+)?\s+=>\s+(\S+)\s+(v3\.\d+\.\d+|v2\.3\d\d\.\d+)(?:-[\w.]+)?\b`)
	// A checksum table's entry: the release, then its archive's SHA-256,
	// or 0 where etcd publishes no archive for the table's architecture
	// (kubespray's etcd_binary_checksums.arm).
	checksumRe = regexp.MustCompile(`^\s*["']?(` + ver + `)["']?:\s*["']?(?:(?:sha256:)?[0-9a-fA-F]{64}\b|0["']?\s*(?:#.*)?$)`)
	// A document's list item: etcd (perhaps a link), then the version.
	docListRe = regexp.MustCompile(`(?i)^\s*[-*]\s+\[?etcd\]?(?:\([^)]*\))?:?\s+(` + ver + `)\s*$`)
	// A version file under a path that names etcd
	// (build-scripts/components/etcd/version.sh): a line that is only the
	// version, printed or bare.
	versionLineRe = regexp.MustCompile(`^\s*(?:echo\s+|printf\s+)?["']?(` + ver + `)["']?\s*$`)
	// Helm-style values: a repository line naming etcd, then a tag.
	repoLineRe = regexp.MustCompile(`^\s*repository:\s*["']?[\w./:-]*/?etcd["']?\s*$`)
	tagLineRe  = regexp.MustCompile(`^\s*tag:\s*["']?(` + ver + `)(` + build + `)?["']?\s*$`)
	// dependencies.yaml.
	depNameRe    = regexp.MustCompile(`^\s*-?\s*name:\s*["']?([\w./-]+)["']?\s*$`)
	depVersionRe = regexp.MustCompile(`^\s*version:\s*["']?(` + ver + `)["']?\s*$`)
	// YAML keys, for the etcd blocks of larger documents.
	yamlKeyRe     = regexp.MustCompile(`^(\s*)(?:-\s+)?([\w.-]+):`)
	yamlVersionRe = regexp.MustCompile(`^\s*(?:-\s+)?version:\s*["']?(` + ver + `)["']?\s*$`)
	// Under an etcd key, a value that is an etcd 3 version, whatever its
	// key (kubespray's etcd_supported_versions: v1.31: "v3.5.12", keyed
	// by Kubernetes minor).
	yamlValueRe = regexp.MustCompile(`^\s*(?:-\s+)?["']?[\w.-]+["']?:\s*["']?(` + ver + `)["']?\s*(?:#.*)?$`)
	// A flag naming etcd and the default its help prints (cobra, urfave).
	flagDefaultRe = regexp.MustCompile(`--[\w-]*etcd[\w-]*\b.*\(default:? "?(` + ver + `)"?\)`)
	// Help text naming etcd and the default it states (kine: "The
	// emulated etcd version ... Defaults to 3.5.13").
	helpDefaultRe = regexp.MustCompile(`(?i)\betcd\b.*\bdefaults?(?:\s+to|:)?\s+"?(` + ver + `)\b`)
	// etcd alone, then its version: a component list.
	componentRe = regexp.MustCompile(`(?i)^\s*(?:[-*]\s+)?etcd\s*[:=]\s*["']?(` + ver + `)["']?,?\s*$`)
	// A Hugo or Jekyll code block in a document
	// ({{< highlight yaml >}} ... {{< /highlight >}}).
	highlightOpenRe  = regexp.MustCompile(`\{\{<\s*highlight\b|\{%\s*highlight\b`)
	highlightCloseRe = regexp.MustCompile(`\{\{<\s*/highlight\s*>\}\}|\{%\s*endhighlight\b`)
	// A version anywhere (zeitgeist refPath lines).
	anyVersionRe = regexp.MustCompile(`\b(` + ver + `)\b`)
)

// etcdVersion reduces a pin's text to the etcd version: no v, no build
// suffix; client/v2's v2.305.9 is 3.5.9.
func etcdVersion(text string) string {
	text = strings.TrimSuffix(text, "+incompatible")
	if strings.HasPrefix(text, "v2.3") {
		if e := etcdRelease("go.etcd.io/etcd/client/v2", text); e != "" {
			return e
		}
	}
	return suffixRe.ReplaceAllString(strings.TrimPrefix(text, "v"), "")
}

// isEtcdDependency says whether a dependencies.yaml entry name is etcd's.
func isEtcdDependency(name string) bool {
	n := strings.ToLower(name)
	return n == "etcd" || n == "etcd-image" || strings.HasPrefix(n, "etcd ") || strings.HasSuffix(n, "/etcd")
}

// stagingRe matches the repositories of unpromoted images: k8s-staging-*
// and *-staging*. gcr.io/etcd-development/etcd and quay.io/coreos/etcd are
// etcd's own release registries ("etcd uses gcr.io/etcd-development/etcd
// as a primary container registry, and quay.io/coreos/etcd as secondary",
// etcd's CHANGELOG-3.3 and release notes), not staging.
var stagingRe = regexp.MustCompile(`(^|/)(k8s-staging-[\w-]+|[\w-]*-staging[\w-]*)(/|$)`)

// isStaging says whether an image repository is a staging one.
func isStaging(image string) bool { return stagingRe.MatchString(image) }

// StableImage is the promoted reference for an etcd image tag.
func StableImage(tag string) string { return "registry.k8s.io/etcd:" + tag }

// historyPath says whether a file is release history: release notes,
// CHANGELOGs.
func historyPath(file string) bool {
	f := strings.ToLower(file)
	base := baseName(f)
	return strings.HasPrefix(base, "changelog") || strings.HasPrefix(base, "history") || strings.Contains(base, "notes") ||
		strings.HasPrefix(base, "release") && strings.HasSuffix(base, ".md") ||
		strings.Contains(f, "/releases/") || strings.HasPrefix(f, "releases/") || strings.Contains(f, "release-notes/") || strings.HasPrefix(f, "changelog/")
}

// docFile says whether a file is documentation (Markdown, reST,
// AsciiDoc): its prose is history, its code blocks are pins.
func docFile(file string) bool {
	f := strings.ToLower(file)
	return strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".rst") || strings.HasSuffix(f, ".adoc")
}

// testPath says whether a file belongs to tests.
func testPath(file string) bool {
	f := "/" + strings.ToLower(file)
	for _, part := range []string{"/test/", "/tests/", "/testdata/", "/e2e/", "/testing/", "/testing-manifests/"} {
		if strings.Contains(f, part) {
			return true
		}
	}
	return strings.HasSuffix(f, "_test.go")
}

// scanLines finds the pins in one file's lines.
func scanLines(file string, lines []string) []Pin {
	var pins []Pin
	seen := map[[2]int]bool{} // line, start: one pin per position
	history := historyPath(file)
	isTest := testPath(file)
	base := baseName(file)
	isGoTest := strings.HasSuffix(base, "_test.go")
	isGo := strings.HasSuffix(base, ".go")
	isGoMod := base == "go.mod"
	// A file named version under a path that names etcd holds etcd's
	// version: the path is the evidence.
	versionFile := strings.HasPrefix(strings.ToLower(base), "version") && !strings.HasSuffix(base, ".go") && !docFile(base) &&
		containsEtcd(strings.ToLower(file[:len(file)-len(base)]))
	isMarkdown := docFile(base)
	add := func(line, start, end int, kind, module string) *Pin {
		if seen[[2]int{line, start}] {
			return nil
		}
		text := lines[line][start:end]
		v := etcdVersion(text)
		if _, err := version.Canonical(v); err != nil {
			return nil
		}
		seen[[2]int{line, start}] = true
		example := isGoTest || commented(lines[line], isGo || isGoMod)
		pins = append(pins, Pin{File: file, Line: line + 1, Start: start, End: end, Text: text, Version: v, Minor: version.Minor(v), Kind: kind, Module: module, History: history, Example: example, Test: isTest})
		return &pins[len(pins)-1]
	}
	isDeps := base == "dependencies.yaml" || base == "dependencies.yml"
	isYAML := strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, "_content") || strings.HasSuffix(base, ".spec")
	inMap, inList, inFence := false, false, false
	depName := ""
	repoEtcd := -10
	var keys []yamlKey // the YAML keys enclosing the current line
	for i, l := range lines {
		if isMarkdown && strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if isMarkdown && highlightCloseRe.MatchString(l) {
			inFence = false
		}
		// The line that opens a highlight block is prose up to it; the
		// lines after it are code.
		prose := isMarkdown && !inFence
		if isMarkdown && highlightOpenRe.MatchString(l) && !highlightCloseRe.MatchString(l) {
			inFence = true
		}
		if isYAML && !isDeps {
			keys = enclosing(keys, l)
		}
		if !containsEtcd(l) && !versionFile && !inMap && !inList && depName == "" && repoEtcd < i-3 && !(isDeps && strings.Contains(l, "version")) && !strings.Contains(l, "tag:") && !(isYAML && underEtcd(keys)) {
			continue
		}
		if isGoMod {
			if m := goModReplaceRe.FindStringSubmatchIndex(l); m != nil {
				if p := add(i, m[6], m[7], KindGoMod, l[m[2]:m[3]]); p != nil {
					p.Fork = l[m[4]:m[5]]
				}
				continue
			}
			for _, m := range goModRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], KindGoMod, l[m[2]:m[3]])
			}
			continue
		}
		start := len(pins)
		if versionFile {
			if m := versionLineRe.FindStringSubmatchIndex(l); m != nil {
				if p := add(i, m[2], m[3], KindVersionFile, ""); p != nil {
					p.Example = false // the file prints its version: that is the pin
				}
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
		if isYAML && !isDeps && underEtcd(keys) {
			if m := yamlVersionRe.FindStringSubmatchIndex(l); m != nil {
				add(i, m[2], m[3], KindYAML, "")
			}
			if table := checksumTable(keys); table != "" {
				if m := checksumRe.FindStringSubmatchIndex(l); m != nil {
					add(i, m[2], m[3], KindChecksum, table)
				}
			}
		}
		if m := componentRe.FindStringSubmatchIndex(l); m != nil {
			add(i, m[2], m[3], KindComponent, "")
		}
		if m := flagDefaultRe.FindStringSubmatchIndex(l); m != nil {
			add(i, m[2], m[3], KindFlagDefault, "")
		} else if m := helpDefaultRe.FindStringSubmatchIndex(l); m != nil {
			add(i, m[2], m[3], KindFlagDefault, "")
		}
		if prose {
			if m := docListRe.FindStringSubmatchIndex(l); m != nil {
				add(i, m[2], m[3], KindDocList, "")
				continue // the version shipped, not history
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
			if loc := goListStartRe.FindStringIndex(l); loc != nil {
				inList = !strings.Contains(l[loc[1]:], "}")
				for _, m := range quotedVerRe.FindAllStringSubmatchIndex(l[loc[1]:], -1) {
					add(i, loc[1]+m[2], loc[1]+m[3], KindList, "")
				}
			} else if inList {
				for _, m := range quotedVerRe.FindAllStringSubmatchIndex(l, -1) {
					add(i, m[2], m[3], KindList, "")
				}
				if strings.Contains(l, "}") {
					inList = false
				}
			}
			for _, m := range goConstRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], kindFor(l[m[2]:m[3]], KindGoConst), "")
			}
			for _, m := range goStructRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[2], m[3], KindGoStruct, "")
			}
			if imageRe.MatchString(l) {
				for _, m := range goVersionFieldRe.FindAllStringSubmatchIndex(l, -1) {
					add(i, m[2], m[3], KindGoStruct, "")
				}
			}
		}
		if repoLineRe.MatchString(l) {
			repoEtcd = i
		} else if m := tagLineRe.FindStringSubmatchIndex(l); m != nil && i-repoEtcd <= 3 {
			if p := add(i, m[2], m[3], KindImageTag, ""); p != nil && m[4] >= 0 {
				p.Build = ownBuild(l[m[4]:m[5]])
			}
		}
		for _, m := range imageRe.FindAllStringSubmatchIndex(l, -1) {
			if p := add(i, m[4], m[5], KindImage, ""); p != nil {
				p.Image = l[m[2]:m[3]]
				p.Staging = isStaging(p.Image)
				if m[6] >= 0 {
					p.Build = ownBuild(l[m[6]:m[7]])
				}
				if m[8] >= 0 {
					p.Digest, p.DigestStart, p.DigestEnd = l[m[8]:m[9]], m[8], m[9]
				}
			}
		}
		for _, m := range templateRe.FindAllStringSubmatchIndex(l, -1) {
			add(i, m[4], m[5], kindFor(l[m[2]:m[3]], KindTemplate), "")
		}
		if !isGo {
			for _, m := range listVarRe.FindAllStringSubmatchIndex(l, -1) {
				for _, v := range anyVersionRe.FindAllStringSubmatchIndex(l[m[2]:m[3]], -1) {
					add(i, m[2]+v[2], m[2]+v[3], KindList, "")
				}
			}
			for _, m := range variableRe.FindAllStringSubmatchIndex(l, -1) {
				add(i, m[4], m[5], kindFor(l[m[2]:m[3]], KindVariable), "")
			}
		}
		// Last, so that what is known of the line (an image's tag) wins.
		if isYAML && !isDeps && underEtcd(keys) && checksumTable(keys) == "" {
			if m := yamlValueRe.FindStringSubmatchIndex(l); m != nil && strings.HasPrefix(strings.TrimPrefix(l[m[2]:m[3]], "v"), "3.") {
				add(i, m[2], m[3], KindYAML, "")
			}
		}
		// Prose in docs is history; code blocks in them are pins.
		if prose {
			for k := start; k < len(pins); k++ {
				pins[k].History = true
			}
		}
	}
	return pins
}

// archRe is an architecture after a version in a tag (quay.io's
// v3.5.0-arm64): the same for every release, so it stays and moves.
var archRe = regexp.MustCompile(`^-(?:amd64|arm64|arm|ppc64le|s390x|386|riscv64)$`)

// ownBuild is a tag's build of its own, "" when the suffix is only an
// architecture.
func ownBuild(s string) string {
	if archRe.MatchString(s) {
		return ""
	}
	return s
}

// yamlKey is one key of the YAML path to a line.
type yamlKey struct {
	indent int
	name   string
}

// enclosing updates the stack of YAML keys for line l. A list item
// ("- name: x") is a child of the key at its own column, and its key sits
// where its text starts.
func enclosing(keys []yamlKey, l string) []yamlKey {
	m := yamlKeyRe.FindStringSubmatch(l)
	if m == nil || strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
		return keys
	}
	indent, pop := len(m[1]), len(m[1])
	if strings.HasPrefix(strings.TrimSpace(l), "-") {
		pop, indent = indent+1, indent+2
	}
	for len(keys) > 0 && keys[len(keys)-1].indent >= pop {
		keys = keys[:len(keys)-1]
	}
	return append(keys, yamlKey{indent, m[2]})
}

// underEtcd says whether a key above the current line names etcd
// (etcdClusters:, etcd:).
func underEtcd(keys []yamlKey) bool {
	for _, k := range keys[:max(len(keys)-1, 0)] {
		if strings.Contains(strings.ToLower(k.name), "etcd") {
			return true
		}
	}
	return false
}

// checksumTable names the checksum table a YAML line is in (its keys
// above the line, joined by dots), or "".
func checksumTable(keys []yamlKey) string {
	var names []string
	table := false
	for _, k := range keys[:max(len(keys)-1, 0)] {
		names = append(names, k.name)
		table = table || strings.Contains(strings.ToLower(k.name), "checksum")
	}
	if !table {
		return ""
	}
	return strings.Join(names, ".")
}

// commented says whether a line is a comment or a message a script
// prints: its versions are examples, not pins.
func commented(l string, goLike bool) bool {
	t := strings.TrimSpace(l)
	if goLike {
		return strings.HasPrefix(t, "//")
	}
	return strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "#!") || strings.HasPrefix(t, "//") ||
		strings.HasPrefix(t, "echo ") || strings.HasPrefix(t, "printf ")
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
