package main

import (
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "repli",
		Short: "Disaster-recovery console for two-site KVM/libvirt estates",
		Long: `repli runs a YAML recovery runbook against the libvirt hypervisors of two
sites, step by step, through confirmation gates, and keeps every action in a
local SQLite audit trail.

Without a command, on a terminal, it offers the runs that stopped before
their end (resume one in a keypress), or opens the demo: the bundled annual
drill on simulated sites.

Start here:
  repli demo                        the drill on a simulated two-site lab
  repli plan annual-pra-test        what a runbook will do, touching nothing
  repli check my-plan.yaml          are the sites ready?
  repli run my-plan.yaml            run it, gate by gate
  repli history / show / report     what was done, by whom, when`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion().String(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return home(cmd)
		},
	}
	root.SetVersionTemplate("repli {{.Version}}\n")
	configFlag(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	root.AddCommand(newValidateCmd(), newRunCmd(), newResumeCmd(), newWatchCmd(), newApproveCmd(), newShowCmd(), newReportCmd(), newDemoCmd(), newHistoryCmd(), newCompareCmd(), newVerifyCmd(), newCheckCmd(), newPlanCmd(), newSchemaCmd(),
		newReverseCmd(), newTrailCmd(), newVersionCmd(), newConfigCmd(), newGenManCmd(), newAttachCmd(), newEngineCmd())
	root.AddCommand(newNoteCmd())
	attachCompletions(root)
	return root
}

// dbFlag adds --db, defaulting to $REPLI_DB or the XDG state directory.
func dbFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "db", "", "audit database (default $REPLI_DB, else the config's db, else "+shortHome(store.DefaultPath())+")")
}

// shortHome writes a path under the home directory as ~/….
func shortHome(p string) string { return textfmt.ShortHome(p) }

// operator is who drives the console: the login behind sudo if any.
func operator() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// diagOut receives a runbook's diagnostics: stderr, or what the home
// screen says once it has closed.
var diagOut io.Writer = os.Stderr

// loadRunbook reads a runbook file, or a bundled example by name, with var
// overrides (NAME=VALUE). Diagnostics are printed to stderr; an invalid
// runbook is a usage error.
func loadRunbook(path string, vars ...string) (*runbooks.Runbook, error) {
	return loadRunbookSecrets(path, vars, nil)
}

// loadRunbookSecrets is loadRunbook with --secret-var NAME=@FILE flags.
func loadRunbookSecrets(path string, vars, secretVars []string) (*runbooks.Runbook, error) {
	overrides, err := catalog.Vars(vars)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	secrets, err := catalog.SecretVars(secretVars)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	file, src, err := resolveRunbook(path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	rb, err := checked(runbooks.ParseWithSecrets(file, src, overrides, secrets))
	if err != nil {
		return nil, err
	}
	if err := configureSites(rb); err != nil {
		return nil, err
	}
	return rb, nil
}

// secretVarFlag adds --secret-var to a command that runs a runbook.
func secretVarFlag(cmd *cobra.Command, p *[]string) {
	cmd.Flags().StringArrayVar(p, "secret-var", nil, "set a runbook var from a file: NAME=@FILE; its value is never stored or shown, and it may only be an exec step's env value (repeatable)")
}

func checked(rb *runbooks.Runbook, diags runbooks.Diagnostics) (*runbooks.Runbook, error) {
	for _, d := range diags {
		fmt.Fprintln(diagOut, d)
	}
	if diags.HasErrors() {
		return nil, withCode(exitUsage, fmt.Errorf("the runbook has %d error(s); nothing was run", len(diags.Errors())))
	}
	return rb, nil
}

// parseVars turns --var NAME=VALUE flags into overrides (catalog.Vars).
func parseVars(flags []string) (map[string]string, error) { return catalog.Vars(flags) }

// parseSecretVars turns --secret-var NAME=@FILE flags into var → file
// (catalog.SecretVars).
func parseSecretVars(flags []string) (map[string]string, error) { return catalog.SecretVars(flags) }
