package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks/examples"
)

func TestFindPrefersAFileThenTheDirectoriesThenTheBundled(t *testing.T) {
	t.Parallel()
	bundled := examples.Names()[0]
	dir := t.TempDir()
	mine := filepath.Join(dir, bundled+".yml")
	if err := os.WriteFile(mine, []byte("name: mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if file, _, err := Find(bundled, []string{dir}); err != nil || file != mine {
		t.Errorf("Find(%q) in %s = %q, %v; want the directory's %s", bundled, dir, file, err, mine)
	}
	if file, src, err := Find(bundled, nil); err != nil || file == mine || len(src) == 0 {
		t.Errorf("Find(%q) without directories = %q, %v; want the bundled runbook", bundled, file, err)
	}
	if file, _, err := Find(mine, nil); err != nil || file != mine {
		t.Errorf("Find(path) = %q, %v", file, err)
	}
	_, _, err := Find("no-such-runbook", []string{dir})
	if err == nil || !strings.Contains(err.Error(), "none in "+dir) || !strings.Contains(err.Error(), bundled) {
		t.Errorf("a missing runbook: %v; want where it was looked for and the bundled names", err)
	}
	if got := Files(dir); len(got) != 1 || got[0] != mine {
		t.Errorf("Files = %v", got)
	}
	if got := Title(mine, nil, "in dir"); got != "in dir" {
		t.Errorf("Title of a runbook that does not parse = %q, want where alone", got)
	}
}
