package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// TestExecArgvRecordedAsArray: an argument list and a shell line that
// space-join to the same text are recorded differently, the list as the
// exact argv.
func TestExecArgvRecordedAsArray(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: argv
sites:
  p: {uri: sim://p}
steps:
  - id: list
    exec:
      command: [echo, "a b", "c;true"]
  - id: line
    exec:
      command: echo a b c;true
      shell: true
`
	h := newHarness(t, mustParse(t, "argv.yaml", src), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	var intents []*engine.ActionIntent
	for _, ev := range h.journal.events {
		if in, ok := ev.(*engine.ActionIntent); ok {
			intents = append(intents, in)
		}
	}
	if len(intents) != 2 {
		t.Fatalf("%d intents", len(intents))
	}
	if want := []string{"echo", "a b", "c;true"}; !reflect.DeepEqual(intents[0].Argv, want) {
		t.Errorf("argv recorded %q, want %q", intents[0].Argv, want)
	}
	if want := []string{"/bin/sh", "-c", "echo a b c;true"}; !reflect.DeepEqual(intents[1].Argv, want) {
		t.Errorf("shell argv recorded %q, want %q", intents[1].Argv, want)
	}
	if intents[0].Detail == intents[1].Detail {
		t.Errorf("a list and a shell line read the same in the trail: %q", intents[0].Detail)
	}
	if intents[0].Detail != `echo 'a b' 'c;true'` {
		t.Errorf("detail %q", intents[0].Detail)
	}
}

func secretRunbook(t *testing.T, secret, command string) (string, string) {
	t.Helper()
	key := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(key, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return `version: 1
name: redact
sites:
  p: {uri: sim://p}
steps:
  - id: leak
    exec:
      command: '` + strings.ReplaceAll(command, "'", "''") + `'
      shell: true
      secret_env: {TOKEN: "` + key + `"}
`, key
}

func captured(h *harness) string {
	var b strings.Builder
	for _, ev := range h.journal.events {
		if o, ok := ev.(*engine.OutputCaptured); ok {
			b.WriteString(o.Text)
		}
	}
	return b.String()
}

// TestRedactionCatchesSecretSplitAcrossLines: a tool that wraps its output
// (fold, base64 -w, CRLF) does not get the secret past the redaction.
func TestRedactionCatchesSecretSplitAcrossLines(t *testing.T) {
	t.Parallel()
	const secret = "Zq8v3LmT0pXy7RkA2wNe5HcJ"
	for _, command := range []string{
		`printf '%s\n' "$TOKEN" | fold -w 7`,
		`printf 'token: %s\n' "$TOKEN" | fold -w 10 | sed 's/$/\r/'`,
		`printf '%s' "$TOKEN" | fold -w 5 | sed '2,$s/^/    /'`,
	} {
		src, _ := secretRunbook(t, secret, command)
		h := newHarness(t, mustParse(t, "redact.yaml", src), true)
		if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
			t.Fatalf("%s: outcome %s err %v", command, o, err)
		}
		out := captured(h)
		flat := strings.NewReplacer("\n", "", "\r", "", " ", "").Replace(out)
		if strings.Contains(flat, secret) || !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s: stored %q", command, out)
		}
	}
}

// TestRedactionBeforeTheCap: a secret straddling the 64 KiB capture cap is
// redacted before the output is cut, so not even its first characters are
// stored.
func TestRedactionBeforeTheCap(t *testing.T) {
	t.Parallel()
	const secret = "Zq8v3LmT0pXy7RkA2wNe5HcJ"
	for _, before := range []int{engine.MaxCapture - 5, engine.MaxCapture - 1, engine.MaxCapture - len(secret)} {
		src, _ := secretRunbook(t, secret, fmt.Sprintf(`head -c %d /dev/zero | tr '\0' x; printf '%%s' "$TOKEN"; head -c 1000 /dev/zero | tr '\0' y`, before))
		h := newHarness(t, mustParse(t, "redact.yaml", src), true)
		if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
			t.Fatalf("outcome %s err %v", o, err)
		}
		var out *engine.OutputCaptured
		for _, ev := range h.journal.events {
			if o, ok := ev.(*engine.OutputCaptured); ok {
				out = o
			}
		}
		if out == nil {
			t.Fatal("no output captured")
		}
		tail := strings.TrimRight(out.Text, "x")
		if strings.Contains(out.Text, secret[:4]) || len(out.Text) > engine.MaxCapture {
			t.Errorf("%d bytes before the secret: stored %d bytes ending %q", before, len(out.Text), tail)
		}
		if want := before + len(secret) + 1000 - engine.MaxCapture; out.Truncated != want {
			t.Errorf("truncated %d bytes, want %d", out.Truncated, want)
		}
	}
}

// TestExecStartedRecordsTheProcess: the pid and start time of the command
// are journaled once it runs; the process is not alive once it is done.
func TestExecStartedRecordsTheProcess(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: pid
sites:
  p: {uri: sim://p}
steps:
  - id: run
    exec:
      command: [true]
`
	h := newHarness(t, mustParse(t, "pid.yaml", src), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	var order []string
	var started *engine.ExecStarted
	for _, ev := range h.journal.events {
		switch e := ev.(type) {
		case *engine.ActionIntent, *engine.ActionOutcome:
			order = append(order, ev.Kind())
		case *engine.ExecStarted:
			order = append(order, ev.Kind())
			started = e
		}
	}
	if strings.Join(order, " ") != "action.intent exec.started action.outcome" || started == nil {
		t.Fatalf("events %v", order)
	}
	if started.PID <= 0 || started.StartTicks == 0 || started.Action != 1 {
		t.Errorf("recorded %+v", started)
	}
	if engine.ProcessAlive(started.PID, started.StartTicks) {
		t.Errorf("pid %d reported alive after the command ended", started.PID)
	}
}

func TestProcessAlive(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var start uint64
	fmt.Sscan(f[19], &start)
	if !engine.ProcessAlive(os.Getpid(), start) {
		t.Error("this process is not alive")
	}
	if engine.ProcessAlive(os.Getpid(), start+1) {
		t.Error("a reused pid (another start time) counts as alive")
	}
	if engine.ProcessAlive(0, 0) || engine.ProcessAlive(1<<22+12345, 0) {
		t.Error("no process counts as alive")
	}
}

// TestSecretVarNeverRecorded: a var given with --secret-var reaches the
// command in its environment and nowhere else: not in the recorded source,
// vars, intents or output.
func TestSecretVarNeverRecorded(t *testing.T) {
	t.Parallel()
	const secret = "Pw-9f8e7d6c5b4a"
	file := filepath.Join(t.TempDir(), "db.pw")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
name: secret-var
vars:
  db_password: ""
sites:
  p: {uri: sim://p}
steps:
  - id: restore
    exec:
      command: 'echo "connecting with $PGPASSWORD"; test "$PGPASSWORD" = "$(cat ` + file + `)"'
      shell: true
      env: {PGPASSWORD: "${db_password}"}
`
	rb, diags := runbooks.ParseWithSecrets("sv.yaml", []byte(src), nil, map[string]string{"db_password": file})
	if rb == nil {
		t.Fatalf("refused: %v", diags)
	}
	h := newHarness(t, rb, true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v (the command did not get the secret)", o, err)
	}
	for _, ev := range h.journal.events {
		b, _ := engine.EncodeEvent(ev)
		if strings.Contains(string(b), secret) {
			t.Errorf("%s event holds the secret: %s", ev.Kind(), b)
		}
	}
	if out := captured(h); !strings.Contains(out, "connecting with [REDACTED]") {
		t.Errorf("output %q", out)
	}
}

func TestRedactURIs(t *testing.T) {
	t.Parallel()
	got := engine.RedactURIs([]string{"qemu+tls://ops:s3cret@kvm1/system", "qemu+ssh://root@kvm2/system"})
	want := []string{"qemu+tls://ops:xxxxx@kvm1/system", "qemu+ssh://root@kvm2/system"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}
