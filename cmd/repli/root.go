package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

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
	attachCompletions(root)
	return root
}

// dbFlag adds --db, defaulting to $REPLI_DB or the XDG state directory.
func dbFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "db", "", "audit database (default $REPLI_DB, else the config's db, else "+shortHome(store.DefaultPath())+")")
}

func shortHome(p string) string {
	if home, err := os.UserHomeDir(); err == nil && strings.HasPrefix(p, home+"/") {
		return "~" + p[len(home):]
	}
	return p
}

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

// loadRunbook reads a runbook file, or a bundled example by name, with var
// overrides (NAME=VALUE). Diagnostics are printed to stderr; an invalid
// runbook is a usage error.
func loadRunbook(path string, vars ...string) (*runbooks.Runbook, error) {
	return loadRunbookSecrets(path, vars, nil)
}

// loadRunbookSecrets is loadRunbook with --secret-var NAME=@FILE flags.
func loadRunbookSecrets(path string, vars, secretVars []string) (*runbooks.Runbook, error) {
	overrides, err := parseVars(vars)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	secrets, err := parseSecretVars(secretVars)
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

// parseSecretVars turns NAME=@FILE flags into var → absolute file path (a
// resume may run elsewhere). The file must be readable now; its content is
// read only by the command that uses it, and never stored.
func parseSecretVars(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		name, file, ok := strings.Cut(f, "=")
		if !ok || name == "" || !strings.HasPrefix(file, "@") || len(file) < 2 {
			// Never echo the flag: it may be the secret itself.
			return nil, fmt.Errorf("--secret-var %s: write it as NAME=@FILE, the file holding the value (a value typed on the command line stays in the shell's history and in ps)", name)
		}
		abs, err := filepath.Abs(file[1:])
		if err != nil {
			return nil, fmt.Errorf("--secret-var %s: %w", name, err)
		}
		fh, err := os.Open(abs)
		if err != nil {
			return nil, fmt.Errorf("--secret-var %s: cannot read %s: %w", name, abs, errors.Unwrap(err))
		}
		fh.Close()
		out[name] = abs
	}
	return out, nil
}

// secretVarFlag adds --secret-var to a command that runs a runbook.
func secretVarFlag(cmd *cobra.Command, p *[]string) {
	cmd.Flags().StringArrayVar(p, "secret-var", nil, "set a runbook var from a file: NAME=@FILE; its value is never stored or shown, and it may only be an exec step's env value (repeatable)")
}

// parseVars turns NAME=VALUE flags into overrides.
func parseVars(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--var %q: write it as NAME=VALUE (a list as a,b,c)", f)
		}
		out[name] = value
	}
	return out, nil
}

func checked(rb *runbooks.Runbook, diags runbooks.Diagnostics) (*runbooks.Runbook, error) {
	for _, d := range diags {
		fmt.Fprintln(os.Stderr, d)
	}
	if diags.HasErrors() {
		return nil, withCode(exitUsage, fmt.Errorf("the runbook has %d error(s); nothing was run", len(diags.Errors())))
	}
	return rb, nil
}
