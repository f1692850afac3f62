package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
)

// Report is repli config's answer: the files read, the libvirt aliases
// and every value with where it comes from. Its JSON keys are a contract
// for scripts: add, never rename.
type Report struct {
	Precedence  []string     `json:"precedence"`
	Files       []ReportFile `json:"files"`
	Unreadable  []string     `json:"unreadable"` // config files this user may not read, passed over
	LibvirtConf string       `json:"libvirt_conf"`
	URIAliases  []string     `json:"uri_aliases"`
	Values      []Value      `json:"values"`

	aliases *Aliases
}

// ReportFile is a config file read, and its kind.
type ReportFile struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

// Precedence is the order in which a value's sources win.
var Precedence = []string{FromFlag, FromEnv, FromRunbook, FromUser, FromSystem, FromDefault}

// Describe reports the configuration with these inputs and the uri_aliases
// of the libvirt.conf at libvirtConf.
func (c *Config) Describe(in Inputs, libvirtConf string) (Report, error) {
	r := Report{Precedence: Precedence, Files: []ReportFile{}, Unreadable: append([]string{}, c.Unreadable...), Values: c.All(in), LibvirtConf: libvirtConf}
	aliases, err := LoadAliases(libvirtConf)
	if err != nil {
		return r, err
	}
	r.aliases = aliases
	r.URIAliases = append([]string{}, aliases.Names()...)
	for _, f := range c.Files {
		r.Files = append(r.Files, ReportFile{f.Path(), f.Kind()})
	}
	return r, nil
}

// WriteText writes the report for a terminal: a site's URIs with what
// their aliases resolve to.
func (r Report) WriteText(out io.Writer) error {
	w := &textfmt.ErrWriter{W: out}
	short, printable := textfmt.ShortHome, safetext.Printable
	if len(r.Files) == 0 {
		fmt.Fprintf(w, "config files: none (looked for %s and %s)\n", short(UserPath(nil)), SystemPath)
	} else {
		var fs []string
		for _, f := range r.Files {
			fs = append(fs, short(f.Path)+" ("+f.Kind+")")
		}
		fmt.Fprintf(w, "config files: %s\n", printable(strings.Join(fs, ", ")))
	}
	for _, u := range r.Unreadable {
		fmt.Fprintf(w, "passed over:  %s (you may not read it)\n", printable(short(u)))
	}
	al := "none"
	if len(r.URIAliases) > 0 {
		al = strings.Join(r.URIAliases, ", ")
	}
	fmt.Fprintf(w, "libvirt.conf: %s (uri_aliases: %s)\n", short(r.LibvirtConf), printable(al))
	fmt.Fprintf(w, "precedence:   %s\n\n", strings.Join(r.Precedence, " > "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	for _, v := range r.Values {
		val := v.String()
		if !v.Set() {
			val = "—"
		}
		if strings.HasPrefix(v.Key, SitePrefix) {
			var shown []string
			for _, u := range v.Values {
				if res, ok := r.aliases.Resolve(u); ok {
					u += " → " + res
				}
				shown = append(shown, u)
			}
			if len(shown) > 0 {
				val = strings.Join(shown, ", ")
			}
		}
		from := v.Source
		if v.Where != "" {
			from += " " + short(v.Where)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(v.Key), printable(val), printable(from))
	}
	tw.Flush()
	return w.Err
}
