package repo

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

// changedLines lists file:line for every line that differs between the
// testdata tree src and its bumped copy dir (bumps keep line counts).
func changedLines(t *testing.T, src, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(dir, rel))
		al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
		if len(al) != len(bl) {
			t.Errorf("%s: %d lines became %d", rel, len(al), len(bl))
			return nil
		}
		for i := range al {
			if al[i] != bl[i] {
				out = append(out, rel+":"+strconv.Itoa(i+1))
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func fileHas(t *testing.T, dir, file string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			t.Errorf("%s lacks %q:\n%s", file, w, b)
		}
	}
}

func leftKeys(l []LeftPin) []string {
	var out []string
	for _, p := range l {
		out = append(out, p.File+":"+strconv.Itoa(p.Line)+" "+p.Text)
	}
	sort.Strings(out)
	return out
}

// The guide's move of Kubernetes from 3.6.8 to 3.6.9 changes exactly the
// lines etcd's guide names: the inventory, the templated manifest, the
// exported image tag, kubeadm's default and map, etcd.sh, the two images,
// the struct literal and the lockstep go.mod modules. Not the minimum, not
// the CHANGELOG, not go.etcd.io/raft/v3 or bbolt.
func TestBumpTheGuidesTree(t *testing.T) {
	cat, _ := catalog.Default()
	dir := testTree(t, "testdata/guide")
	r, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"build/dependencies.yaml:12",
		"cluster/gce/manifests/etcd.manifest:15", "cluster/gce/manifests/etcd.manifest:31",
		"cluster/gce/upgrade-aliases.sh:12", "cluster/gce/upgrade-aliases.sh:13",
		"cmd/kubeadm/app/constants/constants.go:11", "cmd/kubeadm/app/constants/constants.go:23",
		"cmd/kubeadm/app/constants/constants.go:24", "cmd/kubeadm/app/constants/constants.go:25",
		"go.mod:11", "go.mod:12", "go.mod:13", "go.mod:19", "go.mod:20",
		"hack/lib/etcd.sh:5",
		"staging/src/k8s.io/apiserver/go.mod:10", "staging/src/k8s.io/apiserver/go.mod:11",
		"staging/src/k8s.io/apiserver/go.mod:16", "staging/src/k8s.io/apiserver/go.mod:8",
		"staging/src/k8s.io/apiserver/go.mod:9",
		"staging/src/k8s.io/sample-apiserver/artifacts/example/deployment.yaml:25",
		"test/e2e/testing-manifests/statefulset/etcd/statefulset.yaml:21",
		"test/utils/image/manifest.go:8",
	}
	sort.Strings(want)
	if got := changedLines(t, "testdata/guide", dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	fileHas(t, dir, "cluster/gce/manifests/etcd.manifest", "pillar.get('etcd_docker_tag', '3.6.9-0')", "pillar.get('etcd_version', '3.6.9')")
	fileHas(t, dir, "cluster/gce/upgrade-aliases.sh", "export ETCD_IMAGE=3.6.9-0\nexport ETCD_VERSION=3.6.9\n")
	fileHas(t, dir, "test/utils/image/manifest.go", `Config{list.GcEtcdRegistry, "etcd", "3.6.9-0"}`)
	fileHas(t, dir, "cmd/kubeadm/app/constants/constants.go", `MinExternalEtcdVersion = "3.5.24-0"`, `36: "3.6.9-0",`)
	fileHas(t, dir, "go.mod", "go.etcd.io/raft/v3 v3.6.0", "go.etcd.io/bbolt v1.4.3", "go.etcd.io/etcd/server/v3 v3.6.9")
	fileHas(t, dir, "CHANGELOG/CHANGELOG-1.36.md", "registry.k8s.io/etcd:3.6.8-0")
	if strings.Join(r.Lines, ",") != "3.6" || len(r.Untouched) != 0 || len(r.Left) != 0 {
		t.Errorf("lines %v, untouched %v, left %v", r.Lines, r.Untouched, leftKeys(r.Left))
	}
	if got := leftKeys(r.Reported); strings.Join(got, ",") != "CHANGELOG/CHANGELOG-1.36.md:7 3.6.8-0,CHANGELOG/CHANGELOG-1.36.md:8 3.6.8-0" {
		t.Errorf("reported: %v", got)
	}
	// The closing line is the fresh scan's: every line-3.6 pin it finds.
	if c := r.Closing(); !strings.Contains(c, "rewrote 23 pins in 10 files; a new scan finds 23 pins at 3.6.9") {
		t.Errorf("closing: %s", c)
	}
	if len(r.Stale) != 0 || r.After.Version != "3.6.9" || !r.After.Agree {
		t.Errorf("after: stale %v, version %s, agree %v", r.Stale, r.After.Version, r.After.Agree)
	}
}

// kops carries three lines. --from 3.6.12 moves the 3.6.12 pins only:
// the constant, the golden files' image and specs; not 3.5 or 3.7, not
// the release notes, not the custom-image test at 3.6.99.
func TestBumpOneLineOfKops(t *testing.T) {
	cat, _ := catalog.Default()
	scan, err := Scan("testdata/kops")
	if err != nil {
		t.Fatal(err)
	}
	scan.MarkUnreleased(cat.NotListed)
	var lines []string
	for _, l := range scan.Lines {
		lines = append(lines, l.Minor+"="+l.Version)
		if !l.Agree {
			t.Errorf("line %s disagrees: %v", l.Minor, l.Versions)
		}
	}
	if strings.Join(lines, " ") != "3.5=3.5.31 3.6=3.6.12 3.7=3.7.0" || !scan.Agree {
		t.Errorf("lines %v, agree %v", lines, scan.Agree)
	}
	for _, from := range [][]string{{"3.6.12"}, nil} {
		dir := testTree(t, "testdata/kops")
		r, err := Bump(dir, "3.6.16", BumpOptions{Catalog: cat, From: from})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"pkg/model/components/etcd.go:10",
			"pkg/model/components/etcdmanager/tests/minimal/tasks.yaml:46",
			"tests/integration/update_cluster/minimal/data/aws_s3_object_cluster-completed.spec_content:22",
			"tests/integration/update_cluster/minimal/data/aws_s3_object_etcd-cluster-spec-main_content:3",
		}
		if got := changedLines(t, "testdata/kops", dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("--from %v changed:\n%s", from, strings.Join(got, "\n"))
		}
		fileHas(t, dir, "pkg/model/components/etcd.go", `LatestEtcd35Version = "3.5.31"`, `LatestEtcd36Version = "3.6.16"`, `LatestEtcd37Version = "3.7.0"`)
		if strings.Join(r.Untouched, ",") != "3.5,3.7" || r.Regenerate != "hack/update-expected.sh" || len(r.Left) != 0 {
			t.Errorf("untouched %v, regenerate %q, left %v", r.Untouched, r.Regenerate, leftKeys(r.Left))
		}
		reported := strings.Join(leftKeys(r.Reported), ",")
		if !strings.Contains(reported, "docs/releases/1.36-NOTES.md:5 v3.6.12") {
			t.Errorf("reported: %s", reported)
		}
		if from == nil && !strings.Contains(reported, "in-v1alpha2.yaml:11 v3.6.99") {
			t.Errorf("the custom image at 3.6.99 is not reported: %s", reported)
		}
	}
}

// kubeadm at Kubernetes 1.34 maps 1.31-1.33 to 3.5.21 and 1.34 to 3.6.4;
// a bump to 3.6.9 leaves the 3.5 entries, and replaces 3.6.4 in the
// bundled lists without touching their other lines.
func TestBumpKubeadmWithTwoLines(t *testing.T) {
	cat, _ := catalog.Default()
	dir := testTree(t, "testdata/k8s-1.34")
	r, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"build/dependencies.yaml:10", "build/dependencies.yaml:4",
		"cluster/images/etcd/Makefile:11", "cluster/images/etcd/Makefile:8",
		"cluster/images/etcd/migrate/options.go:4",
		"cmd/kubeadm/app/constants/constants.go:17", "cmd/kubeadm/app/constants/constants.go:8",
	}
	if got := changedLines(t, "testdata/k8s-1.34", dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed:\n%s", strings.Join(got, "\n"))
	}
	fileHas(t, dir, "cmd/kubeadm/app/constants/constants.go", `33: "3.5.21-0",`, `34: "3.6.9-0",`, `MinExternalEtcdVersion = "3.5.21-0"`)
	fileHas(t, dir, "cluster/images/etcd/Makefile", "BUNDLED_ETCD_VERSIONS?=3.4.18 3.5.21 3.6.9\n", "LATEST_ETCD_VERSION?=3.6.9\n")
	fileHas(t, dir, "cluster/images/etcd/migrate/options.go", `[]string{"3.4.18", "3.5.21", "3.6.9"}`)
	if strings.Join(r.Untouched, ",") != "3.4,3.5" {
		t.Errorf("untouched: %v", r.Untouched)
	}
	// The usage comment is an example: reported, not rewritten.
	if got := leftKeys(r.Reported); strings.Join(got, ",") != "cluster/images/etcd/Makefile:4 3.6.4" {
		t.Errorf("reported: %v", got)
	}
	// Moving 3.5 across the minor would put 3.6 twice in the lists: those
	// entries are left to a person, the map entries move.
	r, err = Bump(dir, "3.6.9", BumpOptions{Catalog: cat, From: []string{"3.5"}})
	if err != nil {
		t.Fatal(err)
	}
	fileHas(t, dir, "cmd/kubeadm/app/constants/constants.go", `31: "3.6.9-0",`, `MinExternalEtcdVersion = "3.5.21-0"`)
	fileHas(t, dir, "cluster/images/etcd/Makefile", "BUNDLED_ETCD_VERSIONS?=3.4.18 3.5.21 3.6.9\n")
	if got := leftKeys(r.Left); strings.Join(got, ",") != "cluster/images/etcd/Makefile:8 3.5.21,cluster/images/etcd/migrate/options.go:4 3.5.21" {
		t.Errorf("left: %v", got)
	}
}

// kubeadm at 1.28: one line. A patch bump moves all of it (not the 3.4
// minimum); sample-apiserver runs etcd from etcd's own release registry
// (gcr.io/etcd-development), which is not staging; moved to a staging
// registry, check names the promoted reference.
func TestKubeadmOneLineAndStaging(t *testing.T) {
	cat, _ := catalog.Default()
	c, err := Check("testdata/kubeadm-1.28", []string{"3.5.9"}, CheckOptions{Unlisted: cat.NotListed})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mismatches) != 0 || len(c.Staging) != 0 || c.Failed() {
		t.Fatalf("check with etcd's release registry: %+v", c)
	}
	dir := testTree(t, "testdata/kubeadm-1.28")
	dep := filepath.Join(dir, "staging/src/k8s.io/sample-apiserver/artifacts/example/deployment.yaml")
	b, _ := os.ReadFile(dep)
	testutil.Must(t, os.WriteFile(dep, []byte(strings.Replace(string(b), "gcr.io/etcd-development/etcd", "gcr.io/k8s-staging-etcd/etcd", 1)), 0o644))
	c, err = Check(dir, []string{"3.5.9"}, CheckOptions{Unlisted: cat.NotListed})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Staging) != 1 || !c.Failed() ||
		!strings.Contains(c.Staging[0].Reason, "gcr.io/k8s-staging-etcd/etcd:v3.5.9 is a staging image; use the promoted registry.k8s.io/etcd:v3.5.9") {
		t.Fatalf("check with a staging registry: %+v", c)
	}
	testutil.Must(t, os.WriteFile(dep, b, 0o644))
	r, err := Bump(dir, "3.5.21", BumpOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if len(changedLines(t, "testdata/kubeadm-1.28", dir)) != 11 || len(r.Untouched) != 0 {
		t.Errorf("changed %v, untouched %v", changedLines(t, "testdata/kubeadm-1.28", dir), r.Untouched)
	}
	fileHas(t, dir, "cmd/kubeadm/app/constants/constants.go", `MinExternalEtcdVersion = "3.4.13-4"`, `28: "3.5.21-0",`)
	fileHas(t, dir, "test/e2e/framework/providers/gcp.go", `const etcdImage = "3.5.21-0"`)
	// Across the minor, the line is named; the catalog's minimum for
	// entering 3.6 is in the notes.
	r, err = Bump(dir, "3.6.16", BumpOptions{Catalog: cat, From: []string{"3.5"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 1 || r.Notes[0].Minimum == "" || r.Notes[0].MinimumMet {
		t.Errorf("notes: %+v", r.Notes)
	}
}

const (
	digest368 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	// The digests etcd's guide shows for the promoted 3.6.9 images.
	digest369  = "sha256:38e46ab26aa2a82251d3f24cbbdaefe2e68a66346404ee4b7afe7e90db26805d"
	digest369a = "sha256:247e78b668299067e527426d57e6d4670d0893ad7ae706d042293754b2b362e0"
)

func digestTree(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "etcd.yaml"), []byte("spec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.6.8-0@"+digest368+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("ETCD_VERSION ?= 3.6.8\n"), 0o644)
	return dir
}

// A pin by digest never gets a new tag beside its old digest.
func TestBumpDigests(t *testing.T) {
	cat, _ := catalog.Default()
	dir := digestTree(t)
	s, _ := Scan(dir)
	if len(s.Pins) != 2 || s.Pins[1].Digest != digest368 {
		t.Fatalf("scan: %+v", s.Pins)
	}
	before := testutil.TreeText(t, dir)
	_, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat})
	if err == nil || !strings.Contains(err.Error(), "etcd.yaml:4") || !strings.Contains(err.Error(), "registry.k8s.io/etcd:3.6.9-0") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("without a digest: %v", err)
	}
	if _, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat, Digests: map[string]string{"3.6.9-0": "sha256:abc"}}); err == nil || !strings.Contains(err.Error(), "64") {
		t.Errorf("a short digest: %v", err)
	}
	if testutil.TreeText(t, dir) != before {
		t.Fatal("a refused bump changed files")
	}
	tag, d, err := ParseDigest("registry.k8s.io/etcd:3.6.9-0=" + digest369)
	if err != nil || tag != "3.6.9-0" || d != digest369 {
		t.Fatalf("ParseDigest: %s %s %v", tag, d, err)
	}
	for _, bad := range []string{"3.6.9-0", "3.6.9-0=sha256:XYZ", "=" + digest369, "latest=" + digest369, "3.6.9-0=md5:" + digest369[7:]} {
		if _, _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
	if _, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat, Digests: map[string]string{tag: d}}); err != nil {
		t.Fatal(err)
	}
	fileHas(t, dir, "etcd.yaml", "registry.k8s.io/etcd:3.6.9-0@"+digest369+"\n")

	// The image promoter's images.yaml, as kubernetes/k8s.io keeps it.
	dir = digestTree(t)
	images := filepath.Join(t.TempDir(), "images.yaml")
	os.WriteFile(images, []byte(`- name: etcd
  dmap:
    "`+digest368+`": ["v3.6.8", "3.6.8-0"]
    "`+digest369+`": ["v3.6.9", "3.6.9-0"]
    "`+digest369a+`": ["v3.6.9-arm64"]
- name: etcd-empty-dir-cleanup
  dmap:
    "sha256:f805272b4422efa92e20789295c343ed26ff36ddc4f70eeb5d7890d6b758b0fc": ["3.4.7.0"]
`), 0o644)
	m, err := ReadDigests(images)
	if err != nil || m["3.6.9-0"] != digest369 || m["v3.6.9-arm64"] != digest369a || len(m) != 5 {
		t.Fatalf("ReadDigests: %v %v", m, err)
	}
	if _, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat, Digests: m}); err != nil {
		t.Fatal(err)
	}
	fileHas(t, dir, "etcd.yaml", "registry.k8s.io/etcd:3.6.9-0@"+digest369+"\n")
	fileHas(t, dir, "Makefile", "ETCD_VERSION ?= 3.6.9\n")
	os.WriteFile(images, []byte("- name: pause\n  dmap: {}\n"), 0o644)
	if _, err := ReadDigests(images); err == nil || !strings.Contains(err.Error(), "no image named etcd") {
		t.Errorf("images.yaml without etcd: %v", err)
	}
}

// dependencies.yaml: a refPath whose pattern no longer matches is
// reported, and check fails on it; a broken pattern is named with its
// line, and nothing is bumped.
func TestInventory(t *testing.T) {
	dir := testTree(t, "testdata/guide")
	deps := filepath.Join(dir, "build/dependencies.yaml")
	b, _ := os.ReadFile(deps)
	os.WriteFile(deps, []byte(strings.Replace(string(b), "match: registry.k8s.io/etcd", "match: gcr.io/etcd-development/etcd", 1)), 0o644)
	c, err := Check(dir, []string{"3.6.8"}, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Inventory) != 1 || c.Inventory[0].Path != "staging/src/k8s.io/sample-apiserver/artifacts/example/deployment.yaml" || !strings.Contains(c.Inventory[0].Problem, "matches no line") || !c.Failed() {
		t.Fatalf("stale refPath: %+v", c.Inventory)
	}
	os.WriteFile(deps, []byte(strings.Replace(string(b), "match: ETCD_VERSION=", "match: ETCD_VERSION=(", 1)), 0o644)
	before := testutil.TreeText(t, dir)
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "build/dependencies.yaml:21") || !strings.Contains(err.Error(), "not a regular expression") {
		t.Fatalf("broken regexp: %v", err)
	}
	cat, _ := catalog.Default()
	if _, err := Bump(dir, "3.6.9", BumpOptions{Catalog: cat}); err == nil || testutil.TreeText(t, dir) != before {
		t.Fatalf("bump with a broken inventory: %v", err)
	}
}

func TestParseExpect(t *testing.T) {
	got, err := ParseExpect([]string{"v3.5.31", "3.6.12-0"})
	if err != nil || strings.Join(got, ",") != "3.5.31,3.6.12" {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range [][]string{{"3.6.12", "3.6.13"}, {"three"}} {
		if _, err := ParseExpect(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
