// Package buildinfo says what a repli binary is: its version and commit,
// the Go toolchain and the libvirt client library it was built with.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// libvirtModule is the libvirt client library repli speaks libvirt with.
const libvirtModule = "github.com/digitalocean/go-libvirt"

// Info is the JSON shape of repli version --output json; its keys are
// a contract for scripts: add, never rename.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Libvirt string `json:"go_libvirt"`
}

// Read says what this binary is: version and commit when the Makefile
// set them (ldflags), else what the Go toolchain recorded (a module version
// for go install, the VCS revision when built with -buildvcs).
func Read(version, commit string) Info {
	v := Info{Version: version, Commit: commit, Go: runtime.Version(), Libvirt: "unknown"}
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

func (v Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s, go-libvirt %s)", v.Version, v.Commit, v.Go, v.Libvirt)
}
