// Package catalog finds runbooks: a file as given, a name in the runbook
// directories, or a runbook bundled with repli. Every command that takes a
// runbook takes it through Find; shell completion and the home screen list
// them with Files and Title.
package catalog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

// Find finds a runbook's text: a file path as given, else NAME.yaml (or
// .yml) in dirs, else the bundled runbook NAME.
func Find(arg string, dirs []string) (file string, src []byte, err error) {
	b, ferr := ReadFile(arg)
	if ferr == nil {
		return arg, b, nil
	}
	if !errors.Is(ferr, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("runbook %s: cannot read it: %w", arg, ferr)
	}
	name := strings.TrimSuffix(strings.TrimSuffix(arg, ".yaml"), ".yml")
	if !strings.ContainsRune(name, filepath.Separator) {
		for _, dir := range dirs {
			for _, ext := range []string{".yaml", ".yml"} {
				p := filepath.Join(dir, name+ext)
				if b, err := ReadFile(p); err == nil {
					return p, b, nil
				}
			}
		}
		if f, s, err := examples.Source(name); err == nil {
			return f, s, nil
		}
	}
	where := "no bundled runbook has that name (bundled: " + strings.Join(examples.Names(), ", ") + ")"
	if len(dirs) > 0 {
		where = "none in " + strings.Join(dirs, ", ") + ", and " + where
	}
	return "", nil, fmt.Errorf("runbook %s: no such file, %s", arg, where)
}

// ReadFile reads a runbook, no more than the parser accepts (it refuses a
// longer one).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, runbooks.MaxFileSize+1))
}

// Files lists the runbook files (*.yaml, then *.yml) in dir.
func Files(dir string) []string {
	var out []string
	for _, ext := range []string{"*.yaml", "*.yml"} {
		files, _ := filepath.Glob(filepath.Join(dir, ext))
		out = append(out, files...)
	}
	return out
}

// Title is a runbook's title after where it was found ("bundled: The
// annual drill"), or where alone when it has none or does not parse. A nil
// src is read from file.
func Title(file string, src []byte, where string) string {
	if src == nil {
		b, err := os.ReadFile(file)
		if err != nil {
			return where
		}
		src = b
	}
	rb, _ := runbooks.Parse(file, src)
	if rb == nil || rb.Title == "" {
		return where
	}
	return where + ": " + rb.Title
}
