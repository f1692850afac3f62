// Package examples holds the runbooks bundled with repli, embedded in the
// binary so that `repli demo` works from anywhere.
package examples

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the bundled runbooks by name (file name without .yaml).
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Source returns the text of a bundled runbook and its file name.
func Source(name string) (file string, src []byte, err error) {
	file = name + ".yaml"
	src, err = files.ReadFile(file)
	return "runbooks/examples/" + file, src, err
}
