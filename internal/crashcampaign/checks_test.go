package crashcampaign

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckEvents(t *testing.T) {
	t.Parallel()
	intent := func(seq, action int64, step, verb string) event {
		return event{Seq: seq, Kind: "action.intent", Step: step, Action: action, Verb: verb}
	}
	outcome := func(seq, action int64, step string) event {
		return event{Seq: seq, Kind: "action.outcome", Step: step, Action: action}
	}
	decided := func(seq int64, step, choice string) event {
		return event{Seq: seq, Kind: "failure.decided", Step: step, Choice: choice}
	}
	tests := []struct {
		name                      string
		evs                       []event
		gaps, unclosed, twice, dd int
	}{
		{"clean", []event{intent(1, 1, "s", "exec"), outcome(2, 1, "s"), intent(3, 2, "d", "start"), outcome(4, 2, "d")}, 0, 0, 0, 0},
		{"a signature's negative seq is no gap", []event{intent(1, 1, "s", "start"), {Seq: -1, Kind: "signature"}, outcome(2, 1, "s")}, 0, 0, 0, 0},
		{"missing seq", []event{intent(1, 1, "s", "start"), outcome(3, 1, "s")}, 1, 0, 0, 0},
		{"repeated seq", []event{intent(1, 1, "s", "start"), outcome(1, 1, "s")}, 1, 0, 0, 0},
		{"start without outcome", []event{intent(1, 1, "d", "start")}, 0, 1, 0, 0},
		{"reconciled", []event{intent(1, 1, "d", "start"), {Seq: 2, Kind: "action.reconciled", Action: 1}}, 0, 0, 0, 0},
		{"exec in doubt decided", []event{intent(1, 1, "s", "exec"), decided(2, "s", "mark-done")}, 0, 0, 0, 1},
		{"exec run again after retry", []event{intent(1, 1, "s", "exec"), decided(2, "s", "retry"), intent(3, 2, "s", "exec"), outcome(4, 2, "s")}, 0, 0, 0, 1},
		{"exec run again with no choice", []event{intent(1, 1, "s", "exec"), outcome(2, 1, "s"), intent(3, 2, "s", "exec"), outcome(4, 2, "s")}, 0, 0, 1, 0},
		{"retry does not cover a later repeat", []event{intent(1, 1, "s", "exec"), decided(2, "s", "retry"), intent(3, 2, "s", "exec"), outcome(4, 2, "s"), intent(5, 3, "s", "exec"), outcome(6, 3, "s")}, 0, 0, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := checkEvents(tc.evs)
			if f.Gaps != tc.gaps || len(f.Unclosed) != tc.unclosed || len(f.Twice) != tc.twice || f.DoubtsDecided != tc.dd {
				t.Errorf("gaps %d unclosed %v twice %v decided %d; want %d %d %d %d", f.Gaps, f.Unclosed, f.Twice, f.DoubtsDecided, tc.gaps, tc.unclosed, tc.twice, tc.dd)
			}
		})
	}
}

func TestCounterFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		file              string
		intents           map[string]int
		twice, unrecorded int
	}{
		{"once", "start s 1\nend s 1\n", map[string]int{"s": 1}, 0, 0},
		{"killed then run again", "start s 1\nstart s 2\nend s 2\n", map[string]int{"s": 2}, 0, 0},
		{"ran to its end twice", "start s 1\nend s 1\nstart s 2\nend s 2\n", map[string]int{"s": 2}, 1, 0},
		{"two copies at once", "start s 1\nstart s 2\nend s 2\nend s 1\n", map[string]int{"s": 2}, 2, 0},
		{"ran with no intent", "start s 1\nend s 1\n", map[string]int{}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "counter")
			if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			execs, err := readCounter(p)
			if err != nil {
				t.Fatal(err)
			}
			twice, unrecorded := counterFindings(execs, tc.intents)
			if len(twice) != tc.twice || len(unrecorded) != tc.unrecorded {
				t.Errorf("twice %v unrecorded %v; want %d and %d", twice, unrecorded, tc.twice, tc.unrecorded)
			}
		})
	}
}

func TestOperatorAnswers(t *testing.T) {
	t.Parallel()
	o := &operator{decide: func(string) string { return "m" }}
	tests := []struct{ line, want string }{
		{"  [ ] Change ticket is open — done? type y: ", "y"},
		{`  type "primary" to proceed, anything else refuses: `, "primary"},
		{"  proceed? y to confirm, anything else refuses: ", "y"},
		{"  step done? y to confirm, anything else refuses: ", "y"},
		{"  answer (kept in the audit trail): ", "crash campaign"},
		{"  r retry · m mark done · s skip (not a success) · a abort the run: ", "m"},
	}
	for _, tc := range tests {
		got, ok := o.answer(tc.line)
		if !ok || got != tc.want {
			t.Errorf("answer(%q) = %q, %v; want %q", tc.line, got, ok, tc.want)
		}
	}
	if got, ok := o.answer("12:00:00 stop-primary waits: type "); ok {
		t.Errorf("answered %q to a line that is no prompt", got)
	}
}
