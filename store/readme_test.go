package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

// auditorRecipe is the shell block of README.md that follows the
// "auditor recipe" marker, as written.
func auditorRecipe(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- auditor recipe:")
	if !ok {
		t.Fatal("README.md has no auditor recipe")
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the auditor recipe is not a ```sh block")
	}
	return block
}

// TestAuditorRecipe runs README's recipe for checking an anchor without
// repli, with sqlite3 and ssh-keygen, on a real signed trail: it passes for
// the run's anchor and operator, and fails for a changed hash, for another
// operator, and for a key the allowed_signers file gives to someone else.
func TestAuditorRecipe(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sqlite3", "ssh-keygen", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "the auditor recipe needs %s (make deps-test installs it)", tool)
		}
	}
	ctx := context.Background()
	recipe := auditorRecipe(t)
	o := newOperators(t)
	s, path := openTemp(t)
	s.SetSigner("alice", o.signer(t, "alice"), nil)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents(engine.OutcomeSucceeded))
	r, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	anchor := fmt.Sprintf("%d:%s", r.EndEventID, r.EndHash)

	mallorysKeyAsAlice := filepath.Join(t.TempDir(), "allowed_signers")
	pub, _ := os.ReadFile(o.keys["mallory"] + ".pub")
	os.WriteFile(mallorysKeyAsAlice, []byte("alice "+string(pub)), 0o644)

	tests := []struct {
		name             string
		anchor, operator string
		allowed          string
		ok               bool
	}{
		{"the run's anchor", anchor, "alice", o.allowed, true},
		{"a changed hash", fmt.Sprintf("%d:%s", r.EndEventID, strings.Repeat("0", 64)), "alice", o.allowed, false},
		{"another operator", anchor, "bob", o.allowed, false},
		{"alice's name on mallory's key", anchor, "alice", mallorysKeyAsAlice, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a, _ := os.ReadFile(tt.allowed)
			os.WriteFile(filepath.Join(dir, "allowed_signers"), a, 0o644)
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", recipe)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "DB="+path, fmt.Sprintf("RUN=%d", id), "ANCHOR="+tt.anchor, "OPERATOR="+tt.operator)
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tt.ok {
				t.Fatalf("recipe ok = %v, want %v:\n%s", ok, tt.ok, out)
			}
			if tt.ok && !strings.Contains(string(out), `Good "repli" signature for alice with ED25519 key`) {
				t.Errorf("recipe output:\n%s", out)
			}
		})
	}
}
