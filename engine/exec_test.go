package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

func TestExecSecretsNeverRecorded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "customer.key")
	if err := os.WriteFile(key, []byte("hunter2-very-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
name: secrets
vars:
  key: ` + key + `
sites:
  p: {uri: sim://p}
steps:
  - id: decrypt
    exec:
      command: 'echo "key is $BACKUP_KEY"; printf "token=%s%s\\n" abc 123 >&2; echo "db password is $DB_PASSWORD"'
      shell: true
      env: {DB_PASSWORD: s3cr3t-pw}
      secret_env: {BACKUP_KEY: "${key}"}
      redact: ['token=\w+']
`
	h := newHarness(t, mustParse(t, "secrets.yaml", src), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	var out []string
	for _, ev := range h.journal.events {
		b, _ := engine.EncodeEvent(ev)
		// The key file's content, and what the command printed, are never
		// recorded. (A value written in the runbook itself, like this env's,
		// is part of the runbook's recorded text: the validator warns.)
		for _, secret := range []string{"hunter2-very-secret", "abc123"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s event holds a secret: %s", ev.Kind(), b)
			}
		}
		if o, ok := ev.(*engine.OutputCaptured); ok {
			out = append(out, o.Stream+": "+strings.TrimSpace(o.Text))
		}
	}
	want := "stdout: key is [REDACTED]\ndb password is [REDACTED] stderr: [REDACTED]"
	if got := strings.Join(out, " "); got != want {
		t.Errorf("captured output %q, want %q", got, want)
	}
}

func TestExecFailureSaysWhy(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: fails
sites:
  p: {uri: sim://p}
steps:
  - id: restore
    exec:
      command: [sh, -c, "echo 'pg_restore: error: connection refused' >&2; exit 3"]
`
	h := newHarness(t, mustParse(t, "fails.yaml", src), true)
	if o, _ := h.run(nil); o != engine.OutcomeFailed {
		t.Fatalf("outcome %s", o)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "exited with status 3") || !strings.Contains(end.Reason, "connection refused") {
		t.Errorf("reason %q", end.Reason)
	}
}

func TestExecTimeoutKillsTheCommand(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: slow
sites:
  p: {uri: sim://p}
steps:
  - id: slow
    exec:
      command: [sleep, "30"]
      timeout: 200ms
`
	h := newHarness(t, mustParse(t, "slow.yaml", src), true)
	if o, _ := h.run(nil); o != engine.OutcomeFailed {
		t.Fatalf("outcome %s", o)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "killed") {
		t.Errorf("reason %q", end.Reason)
	}
}

// TestInDoubtExecIsNeverRerunBlindly: a command whose outcome was never
// recorded is not run again unless the operator says so; mark-done records
// the step as done without running it.
func TestInDoubtExecIsNeverRerunBlindly(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "runs")
	src := `version: 1
name: doubt
sites:
  p: {uri: sim://p}
steps:
  - id: sync
    exec:
      command: [sh, -c, "echo run >> ` + marker + `"]
`
	h := newHarness(t, mustParse(t, "doubt.yaml", src), false)
	h.journal.failOn = "action.outcome" // the console dies after the command ran
	if _, err := h.run(nil); err == nil {
		t.Fatal("the run went on without its outcome")
	}
	h.journal.failOn = ""
	r := h.resumed(t, false)
	var choices []engine.Choice
	outcome, err := r.runWith(nil, func(f *engine.FailureOpened) {
		choices = f.Choices
		r.eng.Send(engine.Input{Step: f.Step, Kind: engine.InputMarkDone, Operator: "erin"})
	})
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	if len(choices) != 4 || choices[1] != engine.ChoiceMarkDone {
		t.Errorf("choices offered %v", choices)
	}
	b, _ := os.ReadFile(marker)
	if n := strings.Count(string(b), "run"); n != 1 {
		t.Errorf("the command ran %d times", n)
	}
	// With --auto-approve there is nobody to decide: the run stops, failed.
	h2 := newHarness(t, mustParse(t, "doubt.yaml", src), true)
	h2.journal.failOn = "action.outcome"
	h2.run(nil)
	h2.journal.failOn = ""
	if o, _ := h2.resumed(t, true).run(nil); o != engine.OutcomeFailed {
		t.Errorf("auto-approve resume of an in-doubt command: %s", o)
	}
}
