package runtime

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// nameRE is what etcdpilot accepts as a member name in a hook, a path or
// an ssh target: the names etcd, kubeadm (node names) and people use,
// and nothing a shell, ssh or a path would read as more than a name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:+_-]{0,252}$`)

// CheckName refuses a member name that a shell, ssh or a path would read
// as more than a name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("member name %q: etcdpilot runs hooks, paths and ssh targets only for names of letters, digits and . _ @ : + - (not starting with one of them, no ..); this one could run commands on the hosts: re-add the member under a plain name", name)
	}
	return nil
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// CheckHost refuses a host that is neither an IP address nor a DNS name.
func CheckHost(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	h := strings.TrimSuffix(host, ".")
	ok := h != "" && len(h) <= 253
	for _, l := range strings.Split(h, ".") {
		ok = ok && labelRE.MatchString(l)
	}
	if !ok {
		return fmt.Errorf("host %q is neither an IP address nor a DNS name: etcdpilot does not put it in a hook or an ssh target", host)
	}
	return nil
}

// CheckTemplate refuses a template with a placeholder not in known, or a
// placeholder inside quotes: etcdpilot quotes every value it puts in a
// template, so it must stand bare.
func CheckTemplate(flag, template string, known ...string) error {
	if err := CheckPlaceholders(flag, template, known...); err != nil {
		return err
	}
	var quote rune
	escaped := false
	for i, r := range template {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote != 0 && r == '{':
			if p := placeholder.FindString(template[i:]); p != "" && strings.HasPrefix(template[i:], p) {
				return fmt.Errorf("%s %q: %s is inside quotes; write it bare, etcdpilot quotes the value it puts there", flag, template, p)
			}
		}
	}
	if quote != 0 {
		return fmt.Errorf("%s %q: unterminated %c quote", flag, template, quote)
	}
	return nil
}
