package config

import (
	"sort"
	"strings"
)

// Keys of the values Resolve knows; a site is "sites.NAME".
const (
	KeyDB             = "db"
	KeyReplica        = "replica"
	KeySigningKey     = "signing_key"
	KeyAllowedSigners = "allowed_signers"
	KeyRunbooks       = "runbooks"
	SitePrefix        = "sites."
)

// Keys lists the keys other than sites, in the order repli config shows them.
var Keys = []string{KeyDB, KeyReplica, KeySigningKey, KeyAllowedSigners, KeyRunbooks}

var envOf = map[string]string{
	KeyDB: EnvDB, KeyReplica: EnvReplica, KeySigningKey: EnvSigningKey,
	KeyAllowedSigners: EnvAllowedSigners, KeyRunbooks: EnvRunbooks,
}

// Source kinds, highest precedence first.
const (
	FromFlag    = "flag"
	FromEnv     = "environment"
	FromRunbook = "runbook"
	FromChosen  = "config file" // the one file chosen with --config or $REPLI_CONFIG
	FromUser    = "user config"
	FromSystem  = "system config"
	FromDefault = "default"
	Unset       = "unset"
)

// Value is one resolved value and where it came from.
type Value struct {
	Key    string   `json:"key"`
	Values []string `json:"values"` // one entry, or several (runbooks, a site's hosts); empty when unset
	Source string   `json:"source"` // FromFlag … Unset
	Where  string   `json:"where"`  // the flag, the variable, the file
}

// String is the value for people: entries joined by ", ".
func (v Value) String() string { return strings.Join(v.Values, ", ") }

// Set tells whether a value was found.
func (v Value) Set() bool { return len(v.Values) > 0 }

// Inputs are the layers above the files, given by the command.
type Inputs struct {
	// Flags are the values given on the command line, by key, with the
	// flag's spelling in FlagNames ("--db", "--site primary=…").
	Flags     map[string][]string
	FlagNames map[string]string
	// Runbook holds what the runbook says (its sites' URIs), from RunbookFile.
	Runbook     map[string][]string
	RunbookFile string
	// Defaults are the built-in values (the default audit trail path).
	Defaults map[string][]string
}

// Resolve finds key's value: flag > environment > runbook > user config >
// system config > default. A chosen file (--config, $REPLI_CONFIG) stands
// alone in place of the user's and the system's.
func (c *Config) Resolve(key string, in Inputs) Value {
	v := Value{Key: key, Values: []string{}}
	if vals := in.Flags[key]; len(vals) > 0 {
		where := in.FlagNames[key]
		if where == "" {
			where = "--" + key
		}
		return Value{key, vals, FromFlag, where}
	}
	if env, ok := envOf[key]; ok {
		if s := c.getenv(env); s != "" {
			vals := []string{s}
			if key == KeyRunbooks {
				vals = splitList(s)
			}
			return Value{key, vals, FromEnv, "$" + env}
		}
	}
	if vals := in.Runbook[key]; len(vals) > 0 {
		return Value{key, vals, FromRunbook, in.RunbookFile}
	}
	for _, f := range c.Files {
		if vals := f.get(key); len(vals) > 0 {
			return Value{key, vals, f.kind, f.path}
		}
	}
	if vals := in.Defaults[key]; len(vals) > 0 {
		return Value{key, vals, FromDefault, ""}
	}
	v.Source = Unset
	return v
}

// All resolves every key and every site known to the files, the runbook or
// the flags, for repli config.
func (c *Config) All(in Inputs) []Value {
	out := make([]Value, 0, len(Keys))
	for _, k := range Keys {
		out = append(out, c.Resolve(k, in))
	}
	names := map[string]bool{}
	for _, n := range c.SiteNames() {
		names[n] = true
	}
	for _, m := range []map[string][]string{in.Runbook, in.Flags} {
		for k := range m {
			if n, ok := strings.CutPrefix(k, SitePrefix); ok {
				names[n] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		out = append(out, c.Resolve(SitePrefix+n, in))
	}
	return out
}

func (f *File) get(key string) []string {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch key {
	case KeyDB:
		return one(f.DB)
	case KeyReplica:
		return one(f.Replica)
	case KeySigningKey:
		return one(f.SigningKey)
	case KeyAllowedSigners:
		return one(f.AllowedSigners)
	case KeyRunbooks:
		return f.Runbooks
	}
	if n, ok := strings.CutPrefix(key, SitePrefix); ok {
		return f.Sites[n].List()
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
