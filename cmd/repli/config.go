package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// configDoc is the JSON shape of repli config --output json; its keys are a
// contract for scripts: add, never rename.
type configDoc struct {
	Precedence  []string       `json:"precedence"`
	Files       []configFile   `json:"files"`
	Unreadable  []string       `json:"unreadable"` // config files this user may not read, passed over
	LibvirtConf string         `json:"libvirt_conf"`
	URIAliases  []string       `json:"uri_aliases"`
	Values      []config.Value `json:"values"`
}

type configFile struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

var precedence = []string{config.FromFlag, config.FromEnv, config.FromRunbook, config.FromUser, config.FromSystem, config.FromDefault}

func newConfigCmd() *cobra.Command {
	var db string
	var sites []string
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "config [RUNBOOK]",
		Short: "Show repli's configuration: every value and where it comes from",
		Long: `Show the configuration repli runs with: the estate's sites, the audit trail,
its replica, the signing key, the allowed signers and the runbook
directories, each with where it comes from. With a RUNBOOK, its sites too.

The files, the first found wins for each value:
  $XDG_CONFIG_HOME/repli/config.yaml (~/.config/repli/config.yaml)
  /etc/repli/config.yaml
or only the file chosen with --config or $REPLI_CONFIG.

Precedence: flag > environment > runbook > user config > system config > default.

  sites:                      # a runbook may then say: sites: [primary, secondary]
    primary:   {uri: qemu+ssh://kvm1.example/system}
    secondary: {uris: [qemu+ssh://kvm3.example/system, qemu+ssh://kvm4.example/system]}
  db: /srv/repli/audit.db     # $REPLI_DB, --db
  replica: s3://bucket/repli  # $REPLI_REPLICA
  signing_key: ~/.ssh/id_ed25519           # $REPLI_SIGNING_KEY
  allowed_signers: /etc/repli/allowed_signers  # $REPLI_ALLOWED_SIGNERS
  runbooks: [/srv/runbooks]   # $REPLI_RUNBOOKS (dir:dir)

A site URI may be one of libvirt's uri_aliases (libvirt.conf), as with virsh -c.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := estateConfig()
			if err != nil {
				return withCode(exitUsage, err)
			}
			in := config.Inputs{
				Flags:     map[string][]string{},
				FlagNames: map[string]string{},
				Runbook:   map[string][]string{},
				Defaults:  map[string][]string{config.KeyDB: {store.DefaultPath()}},
			}
			if db != "" {
				in.Flags[config.KeyDB] = []string{db}
			}
			for _, s := range sites {
				name, uri, ok := strings.Cut(s, "=")
				if !ok || name == "" || uri == "" {
					return withCode(exitUsage, fmt.Errorf("--site %q: write it as NAME=URI, e.g. --site primary=qemu+ssh://kvm1/system", s))
				}
				in.Flags[config.SitePrefix+name] = []string{uri}
				in.FlagNames[config.SitePrefix+name] = "--site " + name + "=…"
			}
			if len(args) == 1 {
				file, src, err := resolveRunbook(args[0])
				if err != nil {
					return withCode(exitUsage, err)
				}
				rb, err := checked(runbooks.Parse(file, src))
				if err != nil {
					return err
				}
				in.RunbookFile = file
				for _, s := range rb.Sites {
					in.Runbook[config.SitePrefix+s.Name] = s.URIs
				}
			}
			doc := configDoc{Precedence: precedence, Files: []configFile{}, Unreadable: append([]string{}, c.Unreadable...), Values: c.All(in)}
			doc.LibvirtConf = config.LibvirtConfPath(os.Getenv, os.Geteuid())
			aliases, err := config.LoadAliases(doc.LibvirtConf)
			if err != nil {
				return withCode(exitUsage, err)
			}
			doc.URIAliases = append([]string{}, aliases.Names()...)
			for _, f := range c.Files {
				doc.Files = append(doc.Files, configFile{f.Path(), f.Kind()})
			}
			if output.json() {
				return writeJSON(cmd.OutOrStdout(), doc)
			}
			printConfig(cmd, doc, aliases)
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringArrayVar(&sites, "site", nil, "a site's URI given on the command line: NAME=URI (repeatable)")
	outputFlag(cmd, &output)
	return cmd
}

func printConfig(cmd *cobra.Command, doc configDoc, aliases *config.Aliases) {
	out := cmd.OutOrStdout()
	if len(doc.Files) == 0 {
		fmt.Fprintf(out, "config files: none (looked for %s and %s)\n", shortHome(config.UserPath(nil)), config.SystemPath)
	} else {
		var fs []string
		for _, f := range doc.Files {
			fs = append(fs, shortHome(f.Path)+" ("+f.Kind+")")
		}
		fmt.Fprintf(out, "config files: %s\n", printable(strings.Join(fs, ", ")))
	}
	for _, u := range doc.Unreadable {
		fmt.Fprintf(out, "passed over:  %s (you may not read it)\n", printable(shortHome(u)))
	}
	al := "none"
	if len(doc.URIAliases) > 0 {
		al = strings.Join(doc.URIAliases, ", ")
	}
	fmt.Fprintf(out, "libvirt.conf: %s (uri_aliases: %s)\n", shortHome(doc.LibvirtConf), printable(al))
	fmt.Fprintf(out, "precedence:   %s\n\n", strings.Join(doc.Precedence, " > "))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	for _, v := range doc.Values {
		val := v.String()
		if !v.Set() {
			val = "—"
		}
		if strings.HasPrefix(v.Key, config.SitePrefix) {
			var shown []string
			for _, u := range v.Values {
				if r, ok := aliases.Resolve(u); ok {
					u += " → " + r
				}
				shown = append(shown, u)
			}
			if len(shown) > 0 {
				val = strings.Join(shown, ", ")
			}
		}
		from := v.Source
		if v.Where != "" {
			from += " " + shortHome(v.Where)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(v.Key), printable(val), printable(from))
	}
	tw.Flush()
}

// printable keeps text from files and the environment on one line, without
// the control characters a terminal would obey.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}
