package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Vars turns --var NAME=VALUE flags into a runbook's var overrides.
func Vars(flags []string) (map[string]string, error) {
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

// SecretVars turns --secret-var NAME=@FILE flags into var → absolute file
// path (a resume may run elsewhere). The file must be readable now; its
// content is read only by the command that uses it, and never stored. An
// error never shows the flag: it may be the secret itself.
func SecretVars(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		name, file, ok := strings.Cut(f, "=")
		if !ok || name == "" || !strings.HasPrefix(file, "@") || len(file) < 2 {
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
