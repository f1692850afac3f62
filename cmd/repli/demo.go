package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

type demoFlags = runFlags

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open the bundled annual drill on a simulated two-site lab",
		Long: `Open the terminal UI on the bundled annual-pra-test runbook against a
simulated two-site lab: no libvirt needed. The run is recorded in the audit
trail like any other, so repli history lists it afterwards.` + keysHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.detach = detachWanted(cmd, f)
			return runDemo(cmd, f)
		},
	}
	detachFlags(cmd, &f)
	dbFlag(cmd, &f.db)
	cmd.Flags().BoolVar(&f.plain, "plain", false, "print plain progress lines instead of the terminal UI")
	cmd.Flags().BoolVar(&f.autoApprove, "auto-approve", false, "answer every gate and tick every checklist item (recorded as such)")
	simFlags(cmd, &f, 4)
	return cmd
}

func runDemo(cmd *cobra.Command, f demoFlags) error {
	file, src, err := examples.Source("annual-pra-test")
	if err != nil {
		return err
	}
	rb, err := checked(runbooks.Parse(file, src))
	if err != nil {
		return err
	}
	if f.mode == "" {
		f.mode = "test"
	}
	f.path = "annual-pra-test" // what a detached engine loads again
	return execute(cmd, rb, f)
}

// simulatedSites reports whether every site of a run is on the simulated
// lab: such a run is marked simulated (ui.Config.Simulated) on screen.
func simulatedSites(uris map[string]string) bool {
	for _, u := range uris {
		if !strings.HasPrefix(u, "sim://") {
			return false
		}
	}
	return len(uris) > 0
}
