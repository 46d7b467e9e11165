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
	for _, v := range []string{"3.4.0", "3.4.45", "3.5.35", "3.6.16", "3.7.3"} {
		if !c.Known(v) {
			t.Errorf("%s not known", v)
		}
	}
}

func TestResolve(t *testing.T) {
	c, _ := Default()
	for in, want := range map[string]string{"latest": "3.7.3", "3.6": "3.6.16", "v3.5": "3.5.35", "3.5.20": "3.5.20"} {
		got, err := c.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := c.Resolve("3.6.17")
	if err == nil || !strings.Contains(err.Error(), "3.6.16") {
		t.Fatalf("unknown version error should name 3.6.16: %v", err)
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
