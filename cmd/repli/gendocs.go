package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenManCmd writes the man pages, one per command, from the commands
// themselves (cobra/doc), so they never drift from --help. It is hidden:
// make install and make deb call it at build time; the pages are not
// committed.
func newGenManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "__gen-man DIR",
		Short:  "Write repli's man pages (section 1) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return withCode(exitUsage, fmt.Errorf("create the man page directory: %w", err))
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			hdr := &doc.GenManHeader{Section: "1", Source: "repli " + buildVersion().Version, Manual: "repli manual"}
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return withCode(exitFailed, fmt.Errorf("write the man pages: %w", err))
			}
			return nil
		},
	}
}
