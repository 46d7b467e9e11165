package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/pkg/hostexec"
)

// hostile values a member name or host can carry: each would run a
// command, or be read as an option, if it reached a shell or ssh as is.
var hostile = []string{
	"m9;touch /tmp/pwned;echo", "$(touch x)", "`touch x`", "a b", "a'b", `a"b`, "a\nb",
	"-oProxyCommand=touch x", "a|b", "a&b", "a>b", "../../etc", "a\\b", "", "*",
}

func TestNamesAndHostsRefused(t *testing.T) {
	for _, v := range hostile {
		if CheckName(v) == nil {
			t.Errorf("name %q accepted", v)
		}
		if CheckHost(v) == nil {
			t.Errorf("host %q accepted", v)
		}
	}
	for _, ok := range []string{"m1", "etcd-cp-1.example.com", "node_a", "cp1@dc:2", "10.0.0.1"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("name %q refused: %v", ok, err)
		}
	}
	for _, ok := range []string{"10.0.0.1", "::1", "fd00::5", "etcd-1.example.com", "localhost"} {
		if err := CheckHost(ok); err != nil {
			t.Errorf("host %q refused: %v", ok, err)
		}
	}
}

// Every placeholder of the command runtime, with hostile values: refused
// before any hook runs, and no hook runs. With values that pass, each
// reaches the hook as exactly one word.
func TestCommandPlaceholdersAreQuoted(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	for _, ph := range []string{"{name}", "{host}"} {
		for _, v := range hostile {
			c := &Command{StopCmd: "echo " + ph, StartCmd: "echo " + ph, Hosts: map[string]string{"m1": "10.0.0.1"}}
			if ph == "{name}" {
				c.Hosts = map[string]string{v: "10.0.0.1"}
			} else {
				c.Hosts = map[string]string{"m1": v}
			}
			if err := c.Validate(); err == nil {
				t.Errorf("%s = %q: Validate accepted it", ph, v)
			}
		}
	}
	// A member the hooks are asked about directly is checked too.
	c := &Command{StopCmd: "touch " + marker + ".{name}", StartCmd: "true", Hosts: map[string]string{}}
	if err := c.Stop(context.Background(), "m9;touch "+marker+";echo"); err == nil {
		t.Error("a hostile member name reached the stop hook")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the hostile name ran a command")
	}
	// {version} comes from the catalog, and is quoted all the same.
	out := filepath.Join(dir, "out")
	c = &Command{StopCmd: "true", StartCmd: "printf '%s|' {name} {host} {version} > " + hostexec.Quote(out), InstallCmd: "true",
		Hosts: map[string]string{"cp1@dc:2": "fd00::5"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), "cp1@dc:2", StartOptions{Version: "3.6.16;touch " + marker}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if string(b) != "cp1@dc:2|fd00::5|3.6.16;touch "+marker+"|" {
		t.Fatalf("the hook saw %q", b)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a hostile version ran a command")
	}
}

func TestPlaceholderInQuotesRefused(t *testing.T) {
	for _, tmpl := range []string{`ssh '{host}' stop`, `echo "{name}"`, `echo "a {version} b"`, `echo 'x`} {
		if err := CheckTemplate("--stop-cmd", tmpl, "{name}", "{host}", "{version}"); err == nil {
			t.Errorf("%s accepted", tmpl)
		}
	}
	for _, tmpl := range []string{`ssh {host} 'sudo systemctl stop etcd'`, `echo "done" {name}`, `echo \'{name}`} {
		if err := CheckTemplate("--stop-cmd", tmpl, "{name}", "{host}", "{version}"); err != nil {
			t.Errorf("%s refused: %v", tmpl, err)
		}
	}
	if !strings.Contains(CheckTemplate("--stop-cmd", `ssh '{host}' x`, "{host}").Error(), "write it bare") {
		t.Error("the refusal must say what to do")
	}
}
