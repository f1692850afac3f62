package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/buildinfo"
)

// Set at build time by the Makefile:
//
//	-ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=$(git rev-parse HEAD)"
var (
	version = ""
	commit  = ""
)

// buildVersion is what this binary is (buildinfo.Read).
func buildVersion() buildinfo.Info { return buildinfo.Read(version, commit) }

func newVersionCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print repli's version, commit, Go version and libvirt client library version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if out.json() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "repli %s\ncommit      %s\ngo          %s\ngo-libvirt  %s\n", v.Version, v.Commit, v.Go, v.Libvirt)
			return nil
		},
	}
	outputFlag(cmd, &out)
	return cmd
}

// repliVersion is the version recorded in the audit trail with each run.
func repliVersion() string { return buildVersion().Version }
