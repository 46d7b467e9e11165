// Package memberconfig reads an etcd member's configuration from the places
// operators keep it: a kubeadm static pod manifest, a systemd unit (read
// as systemd reads it: drop-ins, Environment=, EnvironmentFile=, $VAR in
// ExecStart), an etcd YAML config file, or a plain list of flags. Flags
// set through ETCD_* environment variables are folded in as the flags
// they set; a --config-file the member names is read and replaces them,
// as etcd does.
package memberconfig

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kinds of configuration source.
const (
	KindKubeadm = "kubeadm-manifest"
	KindSystemd = "systemd-unit"
	KindYAML    = "etcd-config-file"
	KindFlags   = "flag-list"
)

// Setting is one flag as configured.
type Setting struct {
	Value string `json:"value"`
	Line  int    `json:"line"`
	// From says how it was set: "flag", "env" or "config-file".
	From string `json:"from"`
	// File is where it was set when that is not the configuration's own
	// file (its config file, an EnvironmentFile, a drop-in).
	File string `json:"file,omitempty"`
}

// Where is "file:line" of a setting.
func (c *Config) Where(s Setting) string {
	f := s.File
	if f == "" {
		f = c.File
	}
	return fmt.Sprintf("%s:%d", f, s.Line)
}

// Config is one member's configuration.
type Config struct {
	File string `json:"file"`
	Kind string `json:"kind"`
	// Flags by name without the dashes ("enable-v2").
	Flags map[string]Setting `json:"flags"`
	// Image is the container image of a static pod, if any.
	Image string `json:"image,omitempty"`
	// ConfigFile is the etcd config file the member reads (--config-file),
	// merged into Flags; Ignored holds the flags etcd ignores because of
	// it.
	ConfigFile string             `json:"configFile,omitempty"`
	Ignored    map[string]Setting `json:"ignored,omitempty"`
	// workDir is a systemd unit's WorkingDirectory.
	workDir string
}

// Name returns the member name (--name), or "".
func (c *Config) Name() string { return c.Flags["name"].Value }

// Has reports whether the flag is configured.
func (c *Config) Has(flag string) bool {
	_, ok := c.Flags[strings.TrimLeft(flag, "-")]
	return ok
}

// Names returns the configured flag names, sorted.
func (c *Config) Names() []string { return slices.Sorted(maps.Keys(c.Flags)) }

// Load reads and parses a member configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse recognises the kind of configuration and parses it.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file, Flags: map[string]Setting{}}
	text := string(data)
	var err error
	switch {
	case strings.Contains(text, "[Service]") || hasLinePrefix(text, "ExecStart="):
		c.Kind = KindSystemd
		if err = c.parseSystemd(data); err == nil {
			err = c.mergeConfigFile()
		}
	case hasLinePrefix(text, "kind:") || hasLinePrefix(text, "apiVersion:"):
		c.Kind = KindKubeadm
		err = c.parseManifest(data)
	case looksLikeYAMLConfig(text):
		c.Kind = KindYAML
		err = c.parseYAML(data)
	default:
		c.Kind = KindFlags
		if err = c.parseFlagList(data); err == nil {
			err = c.mergeConfigFile()
		}
	}
	if err != nil {
		return nil, err
	}
	if len(c.Flags) == 0 {
		return nil, fmt.Errorf("%s: no etcd flags found (expected a kubeadm static pod manifest, a systemd unit, an etcd config file or a flag list)", file)
	}
	return c, nil
}

func hasLinePrefix(text, prefix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return true
		}
	}
	return false
}

// looksLikeYAMLConfig: "key: value" lines and no leading dashes.
func looksLikeYAMLConfig(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return !strings.HasPrefix(t, "-") && strings.Contains(t, ":") && !strings.Contains(t, " --")
	}
	return false
}

// addArgs records "--a=b", "--a b" and boolean "--a" flags from args, all
// found at one line.
func (c *Config) addArgs(args []string, line int, from string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue // the binary, or a stray word
		}
		name := strings.TrimLeft(a, "-")
		if name == "" {
			continue
		}
		value := "true"
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value = k, v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
			i++
		}
		c.Flags[name] = Setting{Value: value, Line: line, From: from}
	}
	return nil
}

// addEnv records ETCD_FOO_BAR=x, set at file:line, as flag foo-bar.
func (c *Config) addEnv(key, value, file string, line int) {
	if !strings.HasPrefix(key, "ETCD_") {
		return
	}
	name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, "ETCD_"), "_", "-"))
	if _, set := c.Flags[name]; !set {
		c.Flags[name] = Setting{Value: value, Line: line, From: "env", File: file}
	}
}

func (c *Config) errAt(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", c.File, line, fmt.Sprintf(format, args...))
}

// parseFlagList reads flags separated by spaces or newlines; a trailing
// backslash continues a line, "#" starts a comment.
func (c *Config) parseFlagList(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := splitWords(strings.TrimSuffix(line, "\\"))
		if err != nil {
			return c.errAt(n, "%v", err)
		}
		c.addArgs(words, n, "flag")
	}
	return sc.Err()
}

// manifest is the part of a static pod manifest etcdpilot reads.
type manifest struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Containers []struct {
			Name    string   `yaml:"name"`
			Image   string   `yaml:"image"`
			Command []string `yaml:"command"`
			Args    []string `yaml:"args"`
			Env     []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"env"`
		} `yaml:"containers"`
	} `yaml:"spec"`
}

func (c *Config) parseManifest(data []byte) error {
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return fmt.Errorf("%s: %v", c.File, err)
	}
	var m manifest
	if err := node.Decode(&m); err != nil {
		return fmt.Errorf("%s: %v", c.File, err)
	}
	if m.Kind != "Pod" {
		return fmt.Errorf("%s: kind %q is not a Pod (a kubeadm static pod manifest is expected)", c.File, m.Kind)
	}
	lines := commandLines(&node)
	for _, ct := range m.Spec.Containers {
		if ct.Name != "etcd" && !strings.Contains(ct.Image, "etcd") {
			continue
		}
		c.Image = ct.Image
		args := append(append([]string{}, ct.Command...), ct.Args...)
		for i, a := range args {
			line := 0
			if i < len(lines) {
				line = lines[i]
			}
			c.addArgs([]string{a}, line, "flag")
		}
		for _, e := range ct.Env {
			c.addEnv(e.Name, e.Value, "", 0)
		}
		return nil
	}
	return fmt.Errorf("%s: no etcd container in the pod", c.File)
}

// commandLines returns the line of each command/args entry of the first
// container, so that findings can point at the flag.
func commandLines(n *yaml.Node) []int {
	var out []int
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if (n.Content[i].Value == "command" || n.Content[i].Value == "args") && n.Content[i+1].Kind == yaml.SequenceNode {
					for _, e := range n.Content[i+1].Content {
						out = append(out, e.Line)
					}
				}
				walk(n.Content[i+1])
			}
			return
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(n)
	return out
}

// parseYAML reads an etcd --config-file: keys are flag names.
func (c *Config) parseYAML(data []byte) error {
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return fmt.Errorf("%s: %v", c.File, err)
	}
	if len(node.Content) == 0 || node.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: an etcd config file is a YAML mapping of flag names to values", c.File)
	}
	m := node.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		value := v.Value
		if v.Kind != yaml.ScalarNode {
			b, _ := yaml.Marshal(v)
			value = strings.TrimSpace(string(b))
		}
		c.Flags[k.Value] = Setting{Value: value, Line: k.Line, From: "config-file"}
	}
	return nil
}

// splitWords splits a command line like a shell, honouring quotes.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
