package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time by the Makefile:
//
//	-ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=$(git rev-parse HEAD)"
var (
	version = ""
	commit  = ""
)

// libvirtModule is the libvirt client library repli speaks libvirt with.
const libvirtModule = "github.com/digitalocean/go-libvirt"

// versionInfo is the JSON shape of repli version --output json; its keys are
// a contract for scripts: add, never rename.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Libvirt string `json:"go_libvirt"`
}

// buildVersion says what this binary is: the ldflags values when the
// Makefile built it, else what the Go toolchain recorded (a module version
// for go install, the VCS revision when built with -buildvcs).
func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Go: runtime.Version(), Libvirt: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == libvirtModule {
				v.Libvirt = d.Version
				if d.Replace != nil {
					v.Libvirt = d.Replace.Version
				}
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func (v versionInfo) String() string {
	return fmt.Sprintf("%s (commit %s, %s, go-libvirt %s)", v.Version, v.Commit, v.Go, v.Libvirt)
}

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
