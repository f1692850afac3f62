package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks/examples"
)

// TestHomeListsRunbooksOnce: the home screen lists the runbook
// directories' runbooks before the bundled ones, a name found twice once
// (where a run by name would take it), and a broken runbook with how to
// see why; a trail that does not exist yet lists no run.
func TestHomeListsRunbooksOnce(t *testing.T) {
	dir := t.TempDir()
	_, src, err := examples.Source("lab-switchover")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("version: 1\nsteps: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := Home(context.Background(), filepath.Join(t.TempDir(), "audit.db"), []string{dir})
	if len(h.Stopped) != 0 || len(h.Recent) != 0 || !h.Demo {
		t.Fatalf("an empty trail: %+v", h)
	}
	seen := map[string]string{}
	for _, r := range h.Runbooks {
		if _, twice := seen[r.Name]; twice {
			t.Errorf("runbook %s listed twice", r.Name)
		}
		seen[r.Name] = r.From
		if r.Name == "broken" && !strings.Contains(r.Broken, "repli validate") {
			t.Errorf("broken runbook: %+v", r)
		}
	}
	if seen["lab-switchover"] == "bundled" || seen["lab-switchover"] == "" {
		t.Errorf("lab-switchover comes from %q, want the directory that holds a copy", seen["lab-switchover"])
	}
	if _, ok := seen["broken"]; !ok || seen["annual-pra-test"] != "bundled" {
		t.Errorf("runbooks listed: %v", seen)
	}
}
