package safetext

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTerminalAndLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, terminal, line string
	}{
		{"plain", "db-01 is running", "db-01 is running", "db-01 is running"},
		{"unicode kept", "Reprise — étape ✓", "Reprise — étape ✓", "Reprise — étape ✓"},
		{"escape sequence", "a\x1b]0;pwned\x07b", `a\x1b]0;pwned\x07b`, `a\x1b]0;pwned\x07b`},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, `\x1b[2J\x1b[H`},
		{"newline and tab", "one\n\ttwo", "one\n\ttwo", `one\n\ttwo`},
		{"carriage return", "ok\rFAIL", `ok\x0dFAIL`, `ok\x0dFAIL`},
		{"del", "a\x7fb", `a\x7fb`, `a\x7fb`},
		{"c1 csi", "a\u009b2Jb", `a\u009b2Jb`, `a\u009b2Jb`},
		{"c1 range", "\u0080\u009f", `\u0080\u009f`, `\u0080\u009f`},
		{"bidi override", "invoice\u202eexe.pdf", `invoice\u202eexe.pdf`, `invoice\u202eexe.pdf`},
		{"bidi isolates", "\u2066x\u2069", `\u2066x\u2069`, `\u2066x\u2069`},
		{"invalid utf-8", "a\xffb\xc3", `a\xffb\xc3`, `a\xffb\xc3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Terminal(tt.in); got != tt.terminal {
				t.Errorf("Terminal(%q) = %q, want %q", tt.in, got, tt.terminal)
			}
			if got := Line(tt.in); got != tt.line {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if Unsafe(tt.in) != (tt.in != tt.terminal) {
				t.Errorf("Unsafe(%q) = %v", tt.in, Unsafe(tt.in))
			}
		})
	}
}

// FuzzLine: whatever comes in, nothing a terminal acts on comes out.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"\x1b[31m", "\u009b", "\u202e", "\xff", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || isC1(r) || isBidi(r) || r == 0xfffd && !containsRune(s, 0xfffd) {
				t.Fatalf("Line(%q) = %q still holds %U", s, out, r)
			}
		}
	})
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

func TestJSONKeepsStringsAndHidesControls(t *testing.T) {
	t.Parallel()
	in := map[string]string{"title": "a\x1b[2J\u009b\u202e\x7fz — ok"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(b)
	for _, r := range string(out) {
		if r < 0x20 || r == 0x7f || isC1(r) || isBidi(r) {
			t.Fatalf("JSON left %U raw in %s", r, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("escaped JSON no longer parses: %v\n%s", err, out)
	}
	if back["title"] != in["title"] {
		t.Fatalf("round trip changed the string: %q, want %q", back["title"], in["title"])
	}
}

func TestWriterAndWriteJSONShowNoControls(t *testing.T) {
	var b strings.Builder
	if _, err := (Writer{&b}).Write([]byte("a\x1b[31m\tb\n")); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "a\\x1b[31m\tb\n" {
		t.Errorf("Writer wrote %q", got)
	}
	b.Reset()
	if err := WriteJSON(&b, map[string]string{"k": "x\u202ey\x1b"}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "{\n  \"k\": \"x\\u202ey\\u001b\"\n}\n" {
		t.Errorf("WriteJSON wrote %q", got)
	}
}

func TestPrintableKeepsOneLine(t *testing.T) {
	if got := Printable("qemu:///system\n\x1b[2J\u2028x"); got != "qemu:///system??[2J?x" {
		t.Errorf("Printable = %q", got)
	}
}
