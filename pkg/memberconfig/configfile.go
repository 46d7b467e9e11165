package memberconfig

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// mergeConfigFile reads the etcd config file the member names
// (--config-file, or ETCD_CONFIG_FILE) and makes its keys the member's
// settings, as etcd does: "if a configuration file is provided, other
// command line flags and environment variables will be ignored" (etcd's
// configuration guide). The flags it ignores are kept in Ignored. A
// relative path is the unit's WorkingDirectory's, else the file's
// directory's.
func (c *Config) mergeConfigFile() error {
	s, ok := c.Flags["config-file"]
	if !ok || s.Value == "" {
		return nil
	}
	path := s.Value
	if !filepath.IsAbs(path) {
		dir := c.workDir
		if dir == "" {
			dir = filepath.Dir(c.File)
		}
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: the member reads its settings from --config-file %s, which cannot be read here (%v): run etcdpilot where the member runs, or give that file (--member-config %s)", c.Where(s), s.Value, err, s.Value)
	}
	file := &Config{File: path, Kind: KindYAML, Flags: map[string]Setting{}}
	if err := file.parseYAML(data); err != nil {
		return err
	}
	c.Ignored = map[string]Setting{}
	for k, v := range c.Flags {
		if k != "config-file" {
			c.Ignored[k] = v
		}
	}
	c.Flags = map[string]Setting{"config-file": s}
	for k, v := range file.Flags {
		v.File = path
		c.Flags[k] = v
	}
	c.ConfigFile = path
	return nil
}

// IgnoredNames lists the flags etcd ignores because of the config file.
func (c *Config) IgnoredNames() []string { return slices.Sorted(maps.Keys(c.Ignored)) }
