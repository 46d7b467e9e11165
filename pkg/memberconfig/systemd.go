package memberconfig

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// unitSource is one file systemd reads for a unit: the unit, then its
// drop-ins.
type unitSource struct {
	file string
	data []byte
}

// parseSystemd reads the unit as systemd does, with go-systemd's unit
// parser: the unit, then its drop-ins (UNIT.d/*.conf beside it, in name
// order); Environment= and EnvironmentFile= (a "-" before the path: it
// may be missing; an empty value resets the list); ExecStart= (an empty
// one resets it); and $VAR / ${VAR} in ExecStart expanded from that
// environment. ETCD_* variables become the flags they set.
func (c *Config) parseSystemd(data []byte) error {
	sources := []unitSource{{c.File, data}}
	dropIns, _ := filepath.Glob(c.File + ".d/*.conf")
	sort.Strings(dropIns)
	for _, f := range dropIns {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("drop-in %s: %v", f, err)
		}
		sources = append(sources, unitSource{f, b})
	}
	var (
		env      = map[string]envValue{}
		envFiles []string
		exec     string
		execAt   string
		execLine int
		workDir  string
	)
	for _, src := range sources {
		opts, err := unit.DeserializeOptions(bytes.NewReader(src.data))
		if err != nil {
			return fmt.Errorf("%s: %v", src.file, err)
		}
		seen := map[string]int{}
		for _, o := range opts {
			if o.Section != "Service" {
				continue
			}
			line := optionLine(src.data, o.Name, seen[o.Name])
			seen[o.Name]++
			switch o.Name {
			case "ExecStart":
				exec, execAt, execLine = o.Value, src.file, line
			case "WorkingDirectory":
				workDir = strings.TrimPrefix(o.Value, "-")
			case "EnvironmentFile":
				if o.Value == "" {
					envFiles = nil
				} else {
					envFiles = append(envFiles, o.Value)
				}
			case "Environment":
				words, err := splitWords(o.Value)
				if err != nil {
					return fmt.Errorf("%s:%d: Environment: %v", src.file, line, err)
				}
				for _, w := range words {
					if k, v, ok := strings.Cut(w, "="); ok {
						env[k] = envValue{v, src.file, line}
					}
				}
			}
		}
	}
	// Settings from environment files override Environment=.
	for _, f := range envFiles {
		optional := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		vals, err := readEnvFile(f)
		if err != nil {
			if optional && os.IsNotExist(err) {
				continue
			}
			return fmt.Errorf("%s: EnvironmentFile=%s cannot be read here (%v): run etcdpilot where the unit runs, or give the member's flags as a list (--member-config FILE)", c.File, f, err)
		}
		for k, v := range vals {
			env[k] = v
		}
	}
	if exec == "" {
		return fmt.Errorf("%s: no ExecStart= in [Service] (drop-ins read: %d)", c.File, len(dropIns))
	}
	words, err := splitWords(exec)
	if err != nil {
		return fmt.Errorf("%s:%d: ExecStart: %v", execAt, execLine, err)
	}
	args, err := expand(words, env)
	if err != nil {
		return fmt.Errorf("%s:%d: ExecStart: %v", execAt, execLine, err)
	}
	if len(args) > 0 {
		// "-", "@", "+", "!" before the binary are systemd's, not etcd's.
		args[0] = strings.TrimLeft(args[0], "-@+!:|")
	}
	c.addArgs(args, execLine, "flag")
	if execAt != c.File {
		for _, k := range c.Names() {
			if s := c.Flags[k]; s.From == "flag" && s.File == "" {
				s.File = execAt
				c.Flags[k] = s
			}
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		file := env[k].file
		if file == c.File {
			file = ""
		}
		c.addEnv(k, env[k].value, file, env[k].line)
	}
	c.workDir = workDir
	return nil
}

// envValue is one environment variable and where it was set.
type envValue struct {
	value string
	file  string
	line  int
}

// optionLine finds the line of the n-th (from 0) assignment of name.
func optionLine(data []byte, name string, n int) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == name {
			if n == 0 {
				return line
			}
			n--
		}
	}
	return 0
}

// readEnvFile reads a systemd EnvironmentFile: KEY=VALUE lines, "#" and
// ";" comments, values optionally quoted.
func readEnvFile(path string) (map[string]envValue, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]envValue{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = envValue{v, path, line}
	}
	return out, sc.Err()
}

// expand replaces systemd's variables in ExecStart's words: a word that is
// exactly $VAR becomes the value's words, ${VAR} anywhere its value as
// part of the word, $$ a dollar. A variable nothing set is an error (systemd
// would pass an empty string, and the member's flags could not be known).
func expand(words []string, env map[string]envValue) ([]string, error) {
	var out []string
	for _, w := range words {
		if name, ok := strings.CutPrefix(w, "$"); ok && isVarName(name) {
			v, set := env[name]
			if !set {
				return nil, unset(name)
			}
			out = append(out, strings.Fields(v.value)...)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(w); i++ {
			if w[i] != '$' || i+1 == len(w) {
				b.WriteByte(w[i])
				continue
			}
			switch {
			case w[i+1] == '$':
				b.WriteByte('$')
				i++
			case w[i+1] == '{':
				end := strings.IndexByte(w[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ in %q", w)
				}
				name := w[i+2 : i+end]
				v, set := env[name]
				if !set {
					return nil, unset(name)
				}
				b.WriteString(v.value)
				i += end
			default:
				b.WriteByte('$')
			}
		}
		out = append(out, b.String())
	}
	return out, nil
}

func unset(name string) error {
	return fmt.Errorf("$%s is set by no Environment= or readable EnvironmentFile= of the unit or its drop-ins", name)
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !(r >= 'A' && r <= 'Z') && !(r >= 'a' && r <= 'z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
