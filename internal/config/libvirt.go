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
	out := map[string][]string{}
	i, line := 0, 1
	errf := func(format string, a ...any) error {
		return fmt.Errorf("line %d: "+format, append([]any{line}, a...)...)
	}
	// skip passes blanks, and newlines if asked; comments only outside a
	// list, as libvirt's parser (a # inside a list is an error to virsh).
	skip := func(newlines, comments bool) {
		for i < len(src) {
			switch c := src[i]; {
			case c == '#' && comments:
				for i < len(src) && src[i] != '\n' {
					i++
				}
			case c == '\n' && !newlines:
				return
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				if c == '\n' {
					line++
				}
				i++
			default:
				return
			}
		}
	}
	str := func() (string, error) {
		q := src[i]
		end := strings.IndexByte(src[i+1:], q)
		if end < 0 {
			return "", errf("unterminated string")
		}
		s := src[i+1 : i+1+end]
		line += strings.Count(s, "\n")
		i += end + 2
		return s, nil
	}
	scalar := func() (string, bool, error) {
		if i >= len(src) {
			return "", false, errf("a value is missing")
		}
		if src[i] == '"' || src[i] == '\'' {
			s, err := str()
			return s, true, err
		}
		j := i
		for j < len(src) && strings.IndexByte(" \t\r\n#,]", src[j]) < 0 {
			j++
		}
		if j == i {
			return "", false, errf("expecting a value, found %q", src[i])
		}
		i = j
		return "", false, nil
	}
	for {
		skip(true, true)
		if i >= len(src) {
			return out, nil
		}
		j := i
		for j < len(src) && (src[j] == '_' || src[j] == '-' || src[j] == '.' ||
			src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
			j++
		}
		if j == i {
			return nil, errf("expected a setting name, found %q", src[i])
		}
		name := src[i:j]
		i = j
		skip(false, false)
		if i >= len(src) || src[i] != '=' {
			return nil, errf("expected = after %s", name)
		}
		i++
		skip(false, false)
		var vals []string
		if i < len(src) && src[i] == '[' {
			i++
			for {
				skip(true, false)
				if i < len(src) && src[i] == ']' {
					i++
					break
				}
				s, isStr, err := scalar()
				if err != nil {
					return nil, err
				}
				if isStr {
					vals = append(vals, s)
				}
				skip(true, false)
				if i < len(src) && src[i] == ',' {
					i++
				} else if i >= len(src) || src[i] != ']' {
					return nil, errf("expected , or ] in the list of %s", name)
				}
			}
		} else {
			s, isStr, err := scalar()
			if err != nil {
				return nil, err
			}
			if isStr {
				vals = append(vals, s)
			}
		}
		out[name] = vals
		skip(false, true)
		if i < len(src) && src[i] == ';' {
			i++
		}
	}
}
