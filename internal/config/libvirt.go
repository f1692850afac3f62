package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// libvirt's own client configuration, libvirt.conf, may name URIs:
//
//	uri_aliases = [
//	  "hail=qemu+ssh://root@hail.cloud.example.com/system",
//	  "sleet=qemu+ssh://root@sleet.cloud.example.com/system",
//	]
//
// virsh -c hail then connects to the first. repli honours the same file, so
// that a runbook or the config may say uri: hail. The file is libvirt's
// "virConf" format; no Go library reads it, and repli needs one key of it,
// so a small reader is here (strings, lists of strings, numbers, comments).

// LibvirtConfPath is the libvirt.conf virsh reads: /etc/libvirt/libvirt.conf
// when run as root, else $XDG_CONFIG_HOME/libvirt/libvirt.conf
// (~/.config/libvirt/libvirt.conf). libvirt reads one of them, never both.
func LibvirtConfPath(getenv func(string) string, euid int) string {
	if euid == 0 {
		return "/etc/libvirt/libvirt.conf"
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "libvirt", "libvirt.conf")
}

// Aliases are libvirt's uri_aliases, in file order (the first match wins).
type Aliases struct {
	Path    string
	entries [][2]string
}

const aliasChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

// LoadAliases reads uri_aliases from a libvirt.conf; a missing file has none.
func LoadAliases(path string) (*Aliases, error) {
	a := &Aliases{Path: path}
	// As libvirt: a file that cannot be seen (access(F_OK) fails, also when
	// a directory on the way may not be searched) is no file; one that is
	// there but cannot be read is an error.
	if _, err := os.Stat(path); err != nil {
		return a, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read libvirt's client config: %w", err)
	}
	vals, err := parseVirConf(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range vals["uri_aliases"] {
		name, uri, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("%s: malformed uri_aliases entry %q: write it as \"alias=uri://host/path\", as virsh expects", path, e)
		}
		if name == "" || strings.Trim(name, aliasChars) != "" {
			return nil, fmt.Errorf("%s: malformed uri_aliases entry %q: an alias may only contain a-z, A-Z, 0-9, _ and -", path, e)
		}
		a.entries = append(a.entries, [2]string{name, uri})
	}
	return a, nil
}

// Resolve returns the URI an alias stands for, or uri itself when it is no
// alias, as libvirt does before it connects.
func (a *Aliases) Resolve(uri string) (string, bool) {
	if a != nil {
		for _, e := range a.entries {
			if e[0] == uri {
				return e[1], true
			}
		}
	}
	return uri, false
}

// Names lists the aliases, in file order.
func (a *Aliases) Names() []string {
	if a == nil {
		return nil
	}
	out := make([]string, len(a.entries))
	for i, e := range a.entries {
		out[i] = e[0]
	}
	return out
}

// ResolveURI resolves uri through the aliases of the libvirt.conf virsh
// would read for this user. Call it on every site URI before connecting.
func ResolveURI(uri string) (string, error) {
	a, err := LoadAliases(LibvirtConfPath(os.Getenv, os.Geteuid()))
	if err != nil {
		return "", err
	}
	r, _ := a.Resolve(uri)
	return r, nil
}

// parseVirConf reads libvirt's configuration format: "name = value" lines,
// values strings ("…" or '…'), numbers or lists of them across lines, and
// # comments (not inside a list: libvirt refuses them there). Only the
// string values are kept.
func parseVirConf(src string) (map[string][]string, error) {
	p := &virConf{src: src, line: 1}
	out := map[string][]string{}
	for {
		p.skip(true, true)
		if p.i >= len(src) {
			return out, nil
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		p.skip(false, false)
		if p.i >= len(src) || src[p.i] != '=' {
			return nil, p.errf("expected = after %s", name)
		}
		p.i++
		p.skip(false, false)
		var vals []string
		if p.i < len(src) && src[p.i] == '[' {
			vals, err = p.list(name)
		} else {
			vals, err = p.value(nil)
		}
		if err != nil {
			return nil, err
		}
		out[name] = vals
		p.skip(false, true)
		if p.i < len(src) && src[p.i] == ';' {
			p.i++
		}
	}
}

// virConf is the position of parseVirConf in its source.
type virConf struct {
	src     string
	i, line int
}

func (p *virConf) errf(format string, a ...any) error {
	return fmt.Errorf("line %d: "+format, append([]any{p.line}, a...)...)
}

// skip passes blanks, and newlines if asked; comments only outside a list,
// as libvirt's parser (a # inside a list is an error to virsh).
func (p *virConf) skip(newlines, comments bool) {
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == '#' && comments:
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
		case c == '\n' && !newlines:
			return
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if c == '\n' {
				p.line++
			}
			p.i++
		default:
			return
		}
	}
}

func (p *virConf) name() (string, error) {
	src, j := p.src, p.i
	for j < len(src) && (src[j] == '_' || src[j] == '-' || src[j] == '.' ||
		src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
		j++
	}
	if j == p.i {
		return "", p.errf("expected a setting name, found %q", src[p.i])
	}
	name := src[p.i:j]
	p.i = j
	return name, nil
}

func (p *virConf) str() (string, error) {
	q := p.src[p.i]
	end := strings.IndexByte(p.src[p.i+1:], q)
	if end < 0 {
		return "", p.errf("unterminated string")
	}
	s := p.src[p.i+1 : p.i+1+end]
	p.line += strings.Count(s, "\n")
	p.i += end + 2
	return s, nil
}

// value reads one value and appends it to vals if it is a string.
func (p *virConf) value(vals []string) ([]string, error) {
	if p.i >= len(p.src) {
		return nil, p.errf("a value is missing")
	}
	if p.src[p.i] == '"' || p.src[p.i] == '\'' {
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return append(vals, s), nil
	}
	j := p.i
	for j < len(p.src) && strings.IndexByte(" \t\r\n#,]", p.src[j]) < 0 {
		j++
	}
	if j == p.i {
		return nil, p.errf("expecting a value, found %q", p.src[p.i])
	}
	p.i = j
	return vals, nil
}

// list reads [v, v, …], the opening bracket next.
func (p *virConf) list(name string) ([]string, error) {
	var vals []string
	p.i++
	for {
		p.skip(true, false)
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.i++
			return vals, nil
		}
		var err error
		if vals, err = p.value(vals); err != nil {
			return nil, err
		}
		p.skip(true, false)
		if p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
		} else if p.i >= len(p.src) || p.src[p.i] != ']' {
			return nil, p.errf("expected , or ] in the list of %s", name)
		}
	}
}
