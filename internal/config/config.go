// Package config reads repli's configuration: the estate's sites, where the
// audit trail and its replica live, the signing key and allowed signers, and
// the directories holding the team's runbooks.
//
// Two files are read, the user's over the system's:
//
//	$XDG_CONFIG_HOME/repli/config.yaml   (~/.config/repli/config.yaml)
//	/etc/repli/config.yaml
//
// unless one file is chosen with --config or $REPLI_CONFIG: then only that one
// is read. Each value is resolved in this order, first found wins:
//
//	flag > environment > runbook > user config > system config > default
//
// and Resolve says where each value came from (repli config shows it).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is one configuration file, as written.
type File struct {
	// Sites maps a site name to the libvirt URI(s) that reach it.
	Sites map[string]Site `yaml:"sites"`
	// DB is the audit trail (SQLite file).
	DB string `yaml:"db"`
	// Replica is where the audit trail is replicated (a URL).
	Replica string `yaml:"replica"`
	// SigningKey is the SSH private key that signs reports (ssh-keygen -Y).
	SigningKey string `yaml:"signing_key"`
	// AllowedSigners is the ssh-keygen allowed signers file for checking them.
	AllowedSigners string `yaml:"allowed_signers"`
	// Runbooks are directories searched for a runbook given by name.
	Runbooks []string `yaml:"runbooks"`

	path string
	kind string // FromChosen, FromUser or FromSystem
}

// Site is a site of the estate: one URI, or several hosts.
type Site struct {
	URI  string   `yaml:"uri"`
	URIs []string `yaml:"uris"`
}

// List is the site's URIs in order.
func (s Site) List() []string {
	if s.URI != "" {
		return []string{s.URI}
	}
	return s.URIs
}

// Path is the file this configuration was read from.
func (f *File) Path() string { return f.path }

// Kind says which file it is: FromChosen, FromUser or FromSystem.
func (f *File) Kind() string { return f.kind }

// Environment variables repli reads.
const (
	EnvConfig         = "REPLI_CONFIG"
	EnvDB             = "REPLI_DB"
	EnvReplica        = "REPLI_REPLICA"
	EnvSigningKey     = "REPLI_SIGNING_KEY"
	EnvAllowedSigners = "REPLI_ALLOWED_SIGNERS"
	EnvRunbooks       = "REPLI_RUNBOOKS" // directories, separated by ':'
)

// SystemPath is the system-wide configuration file.
const SystemPath = "/etc/repli/config.yaml"

// Options say where to look; the zero value looks where repli does.
type Options struct {
	// Path is the file chosen with --config; "" falls back to $REPLI_CONFIG,
	// then to the user's and the system's files.
	Path string
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// SystemPath replaces /etc/repli/config.yaml (tests).
	SystemPath string
}

// Config is the configuration files read, user's first.
type Config struct {
	// Files read, highest precedence first: the chosen file alone, or the
	// user's then the system's (those that exist).
	Files []*File
	// Unreadable are default files passed over: this user may not read them.
	Unreadable []string
	getenv     func(string) string
}

// UserPath is the user's configuration file: $XDG_CONFIG_HOME/repli/config.yaml.
func UserPath(getenv func(string) string) string {
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
	return filepath.Join(dir, "repli", "config.yaml")
}

// Load reads the configuration files. A file that does not exist is skipped,
// unless it was chosen with --config or $REPLI_CONFIG.
func Load(o Options) (*Config, error) {
	c := &Config{getenv: o.Getenv}
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	chosen, how := o.Path, "--config"
	if chosen == "" {
		chosen, how = c.getenv(EnvConfig), "$"+EnvConfig
	}
	if chosen != "" {
		f, err := readFile(chosen)
		if err != nil {
			return nil, fmt.Errorf("read the config file chosen with %s: %w", how, err)
		}
		f.kind = FromChosen
		c.Files = []*File{f}
		return c, nil
	}
	sys := o.SystemPath
	if sys == "" {
		sys = SystemPath
	}
	for i, p := range []string{UserPath(c.getenv), sys} {
		f, err := readFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if errors.Is(err, fs.ErrPermission) {
			// As git does: a file this user may not read (another
			// user's HOME under sudo or ssh) is passed over, and said.
			c.Unreadable = append(c.Unreadable, p)
			continue
		}
		if err != nil {
			return nil, err
		}
		f.kind = []string{FromUser, FromSystem}[i]
		c.Files = append(c.Files, f)
	}
	return c, nil
}

var siteName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// readFile reads and checks one file: unknown keys are refused (a typo must
// not silently leave a site unconfigured), errors carry line numbers.
func readFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &File{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
		msg = strings.ReplaceAll(msg, "\n  ", "; ")
		msg = strings.ReplaceAll(msg, " in type config.File", "")
		return nil, fmt.Errorf("%s: %s (its keys: sites, db, replica, signing_key, allowed_signers, runbooks)", path, msg)
	}
	for _, p := range []*string{&f.DB, &f.SigningKey, &f.AllowedSigners} {
		*p = expandHome(*p)
	}
	for i := range f.Runbooks {
		f.Runbooks[i] = expandHome(f.Runbooks[i])
	}
	var problems []string
	names := make([]string, 0, len(f.Sites))
	for name := range f.Sites {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := f.Sites[name]
		switch {
		case !siteName.MatchString(name):
			problems = append(problems, fmt.Sprintf("site name %q must be lowercase letters, digits, '-', '_' or '.'", name))
		case s.URI != "" && len(s.URIs) > 0:
			problems = append(problems, fmt.Sprintf("site %s has both uri and uris; use uri for one host, uris for several", name))
		case s.URI == "" && len(s.URIs) == 0:
			problems = append(problems, fmt.Sprintf("site %s needs uri (its libvirt URI, e.g. qemu+ssh://kvm1.example/system) or uris", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	return f, nil
}

// Site returns the site called name from the highest-precedence file that
// has it, and that file.
func (c *Config) Site(name string) (Site, *File, bool) {
	for _, f := range c.Files {
		if s, ok := f.Sites[name]; ok {
			return s, f, true
		}
	}
	return Site{}, nil, false
}

// SiteNames lists every site the configuration knows, sorted.
func (c *Config) SiteNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range c.Files {
		for n := range f.Sites {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// expandHome turns a leading ~/ into the home directory, as a shell would.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
