package conn

import (
	"strings"
	"testing"
)

func TestParseEndpointPorts(t *testing.T) {
	for ep, ok := range map[string]bool{
		"127.0.0.1:2379":         true,
		"https://10.0.0.1:2379":  true,
		"http://127.0.0.1:99999": false,
		"127.0.0.1:0":            false,
		"127.0.0.1:-1":           false,
		"http://127.0.0.1":       false,
		"127.0.0.1:65535":        true,
		"ftp://127.0.0.1:2379":   false,
		"http://127.0.0.1:2379x": false,
	} {
		_, err := ParseEndpoint(ep)
		if (err == nil) != ok {
			t.Errorf("ParseEndpoint(%q): %v, want ok=%v", ep, err, ok)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"endpoint http://root:s3cret@127.0.0.1:2379 failed": "endpoint http://root:REDACTED@127.0.0.1:2379 failed",
		"https://u:p@h:1,https://v:q@h:2":                   "https://u:REDACTED@h:1,https://v:REDACTED@h:2",
		"http://root@127.0.0.1:2379":                        "http://root@127.0.0.1:2379",
		"no url here: a:b@c":                                "no url here: a:b@c",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := ParseEndpoint("http://root:s3cret@127.0.0.1:99999")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestTakeCredentials(t *testing.T) {
	c := Config{Endpoints: []string{"http://root:s3cret@127.0.0.1:2379", "127.0.0.1:2380"}}
	c.TakeCredentials()
	if c.User != "root" || c.Password != "s3cret" || c.Endpoints[0] != "http://127.0.0.1:2379" {
		t.Fatalf("%+v", c)
	}
	c = Config{Endpoints: []string{"root:pw@127.0.0.1:2379"}}
	c.TakeCredentials()
	if c.User != "root" || c.Password != "pw" || c.Endpoints[0] != "127.0.0.1:2379" {
		t.Fatalf("%+v", c)
	}
	c = Config{Endpoints: []string{"http://a:b@127.0.0.1:2379"}, User: "other", Password: "x"}
	c.TakeCredentials()
	if c.User != "other" || c.Password != "x" || strings.Contains(c.Endpoints[0], "@") {
		t.Fatalf("%+v", c)
	}
}
