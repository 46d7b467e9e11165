package catalog

import (
	"strings"
	"testing"
)

func TestEmbeddedCatalogIsValid(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if c.Latest() != "3.7.3" {
		t.Fatalf("latest = %s", c.Latest())
	}
	for _, v := range []string{"3.4.0", "3.4.45", "3.5.36", "3.6.17", "3.7.3"} {
		if !c.Known(v) {
			t.Errorf("%s not known", v)
		}
	}
	// Every release is dated (CHANGELOGs, else the module proxy).
	for _, r := range c.Releases {
		if r.Date == "" {
			t.Errorf("%s has no date", r.Version)
		}
	}
	if m, _ := c.Minor("3.4"); m.EOL != "2026-06-01" {
		t.Errorf("3.4 end of life %s, want 2026-06-01 (CHANGELOG-3.4: 3.4.45 marks the end of support)", m.EOL)
	}
}

func TestResolve(t *testing.T) {
	c, _ := Default()
	for in, want := range map[string]string{"latest": "3.7.3", "3.6": "3.6.17", "v3.5": "3.5.36", "3.5.20": "3.5.20"} {
		got, err := c.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := c.Resolve("3.6.18")
	if err == nil || !strings.Contains(err.Error(), "3.6.17") {
		t.Fatalf("unknown version error should name 3.6.17: %v", err)
	}
	if _, err := c.Resolve("3.9"); err == nil {
		t.Fatal("3.9 resolved")
	}
}

func TestMalformedCatalogNamesLine(t *testing.T) {
	bad := "schema: 1\nupdated: x\nminors:\n  - {minor: \"3.5\", released: 2021-06-15, latest: 3.5.1}\nreleases:\n  - {version: 3.5.0}\n  - {version: 3.5.x}\n"
	_, err := Parse("bad.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:7") {
		t.Fatalf("want error at bad.yaml:7, got %v", err)
	}
	_, err = Parse("bad.yaml", []byte("schema: 1\nbogus: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestPrereleaseInheritsItsReleaseAdvisories(t *testing.T) {
	c, _ := Default()
	rc := c.WithFeed(&Feed{Releases: []Published{{Version: "3.7.0-rc.0"}}})
	if v, err := rc.Resolve("3.7.0-rc.0"); err != nil || v != "3.7.0-rc.0" {
		t.Fatalf("Resolve(3.7.0-rc.0) = %q, %v", v, err)
	}
	if rc.Latest() != "3.7.3" || rc.LatestPatch("3.7.0-rc.0") != "3.7.3" {
		t.Fatalf("a pre-release must not become the latest: %s", rc.Latest())
	}
	ids := func(cs []CVE) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return strings.Join(out, ",")
	}
	if got, want := ids(rc.CVEsAffecting("3.7.0-rc.0")), ids(rc.CVEsAffecting("3.7.0")); got != want || got == "" {
		t.Fatalf("3.7.0-rc.0 CVEs %q, want 3.7.0's %q", got, want)
	}
}

func TestScope(t *testing.T) {
	c, _ := Default()
	all := c.CVEsAffecting("3.6.8")
	server, skipped := c.CVEsFor("3.6.8", ServerScope(AuthOff))
	if len(server)+skipped != len(all) || skipped == 0 {
		t.Fatalf("auth off: %d apply, %d skipped, of %d", len(server), skipped, len(all))
	}
	for _, cv := range server {
		if cv.AuthOnly {
			t.Errorf("%s is auth-only but shown with auth off", cv.ID)
		}
	}
	client, _ := c.CVEsFor("3.6.8", Scope{Parts: []string{PartClient}, Auth: AuthOn})
	for _, cv := range client {
		if ids := strings.Join(cv.Parts(), ","); ids != PartBuild && ids != PartClient {
			t.Errorf("%s (%s) shown to a client-only module", cv.ID, ids)
		}
	}
	if len(client) == 0 {
		t.Fatal("the grpc CVE of the whole build concerns client modules too")
	}
}
