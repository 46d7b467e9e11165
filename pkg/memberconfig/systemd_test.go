package memberconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A unit read as systemd reads it: the environment file and Environment=
// (the file wins), $VAR split into words, ${VAR} inside a word, a drop-in
// that replaces ExecStart (an empty ExecStart= first), the "-" prefix of an
// optional environment file that is missing.
func TestSystemdUnitAsSystemdReadsIt(t *testing.T) {
	dir := t.TempDir()
	envFile := write(t, filepath.Join(dir, "etcd.env"), "# etcd's environment\nETCD_OPTS=\"--quota-backend-bytes 8589934592 --auto-compaction-retention=1\"\nNODE=node-2\nETCD_ENABLE_V2=true\n")
	unitFile := write(t, filepath.Join(dir, "etcd.service"), `[Unit]
Description=etcd

[Service]
Environment=NODE=wrong ETCD_HEARTBEAT_INTERVAL=250
EnvironmentFile=`+envFile+`
EnvironmentFile=-/nonexistent/optional.env
ExecStart=/usr/bin/etcd --name wrong
Restart=always
`)
	write(t, unitFile+".d/10-flags.conf", `[Service]
ExecStart=
ExecStart=-/usr/local/bin/etcd --name ${NODE} \
  --data-dir /var/lib/etcd/${NODE} $ETCD_OPTS \
  --cost=$$5
`)
	c, err := Load(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": "node-2", "data-dir": "/var/lib/etcd/node-2", "quota-backend-bytes": "8589934592",
		"auto-compaction-retention": "1", "enable-v2": "true", "heartbeat-interval": "250", "cost": "$5",
	}
	for k, v := range want {
		if got := c.Flags[k].Value; got != v {
			t.Errorf("%s = %q, want %q (%+v)", k, got, v, c.Flags)
		}
	}
	if s := c.Flags["name"]; s.From != "flag" || s.Line != 3 {
		t.Errorf("--name is set at the drop-in's line 3 as a flag: %+v", s)
	}
	if s := c.Flags["enable-v2"]; s.From != "env" {
		t.Errorf("enable-v2 comes from the environment: %+v", s)
	}
}

// What cannot be resolved is named.
func TestSystemdUnresolved(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ unit, want string }{
		"missing environment file": {"[Service]\nEnvironmentFile=/nonexistent/etcd.env\nExecStart=/usr/bin/etcd --name m1\n", "EnvironmentFile=/nonexistent/etcd.env cannot be read here"},
		"unset variable":           {"[Service]\nExecStart=/usr/bin/etcd --name m1 $ETCD_OPTS\n", "$ETCD_OPTS is set by no Environment="},
		"no ExecStart":             {"[Service]\nRestart=always\n", "no ExecStart="},
		"missing config file":      {"[Service]\nExecStart=/usr/bin/etcd --config-file /nonexistent/etcd.yaml\n", "--config-file /nonexistent/etcd.yaml, which cannot be read here"},
	} {
		_, err := Load(write(t, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".service"), c.unit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// A member started with --config-file runs with the file's keys: etcd
// ignores its other flags and ETCD_* variables then.
func TestConfigFileMerged(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "conf", "etcd.yaml"), "name: infra0\nenable-v2: true\nexperimental-initial-corrupt-check: true\n")
	unitFile := write(t, filepath.Join(dir, "etcd.service"), "[Service]\nWorkingDirectory="+dir+"\nEnvironment=ETCD_SNAPSHOT_COUNT=5000\nExecStart=/usr/bin/etcd --config-file conf/etcd.yaml --debug\n")
	c, err := Load(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Flags["enable-v2"]; s.Value != "true" || s.From != "config-file" || s.Line != 2 {
		t.Errorf("enable-v2 from the config file: %+v", s)
	}
	if c.Has("debug") || c.Has("snapshot-count") || c.ConfigFile != filepath.Join(dir, "conf", "etcd.yaml") {
		t.Errorf("flags beside --config-file are not the member's: %v (config %s)", c.Names(), c.ConfigFile)
	}
	if got := strings.Join(c.IgnoredNames(), ","); got != "debug,snapshot-count" {
		t.Errorf("ignored: %s", got)
	}
	// A flag list names it too, relative to the list's directory.
	list := write(t, filepath.Join(dir, "conf", "flags"), "--config-file=etcd.yaml\n")
	if c, err := Load(list); err != nil || c.Flags["name"].Value != "infra0" {
		t.Errorf("flag list with --config-file: %v %+v", err, c)
	}
}
