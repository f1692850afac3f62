package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

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
				name, uri, err := config.SiteFlag(s)
				if err != nil {
					return withCode(exitUsage, err)
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
			doc, err := c.Describe(in, config.LibvirtConfPath(os.Getenv, os.Geteuid()))
			if err != nil {
				return withCode(exitUsage, err)
			}
			if output.json() {
				return writeJSON(cmd.OutOrStdout(), doc)
			}
			return doc.WriteText(cmd.OutOrStdout())
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringArrayVar(&sites, "site", nil, "a site's URI given on the command line: NAME=URI (repeatable)")
	outputFlag(cmd, &output)
	return cmd
}
