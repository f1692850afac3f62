// Package safetext makes strings that came from outside repli (runbook text,
// domain names, libvirt messages, command output, operators' notes) safe to
// write to a terminal or into a report: every character a terminal would act
// on instead of showing is written as a visible escape such as \x1b.
//
// What is made visible: the C0 controls (ESC, BEL, CR, backspace…) except a
// newline and a tab where the layout allows them, DEL, the C1 controls
// U+0080–U+009F (U+009B is a one-byte CSI for some terminals), the bidi
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069, which
// reorder what a reader sees), the bidi marks U+200E, U+200F, U+061C, the
// line and paragraph separators U+2028, U+2029, and bytes that are not UTF-8.
// A backslash is left as it is: the escapes are for people, not a round trip.
package safetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Terminal returns s with every control character made visible, except
// newlines and tabs, for text shown as several lines (command output, a
// manual step's instructions).
func Terminal(s string) string { return clean(s, true) }

// Line returns s made safe for a single-line context (a title, a table cell,
// a log line): newlines and tabs are made visible too.
func Line(s string) string { return clean(s, false) }

// Unsafe reports whether s holds a character that Terminal would change:
// what a runbook validator warns about.
func Unsafe(s string) bool { return Terminal(s) != s }

// JSON escapes, inside JSON text made by encoding/json, the characters that
// encoder leaves raw but a terminal acts on (DEL, C1 controls, bidi
// controls) as \uXXXX: the document decodes to the same strings.
func JSON(b []byte) []byte {
	if !needsWork(string(b)) {
		return b
	}
	var out strings.Builder
	s := string(b)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0x7f || isC1(r) || isBidi(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.WriteString(s[i : i+size])
		}
		i += size
	}
	return []byte(out.String())
}

func clean(s string, multiline bool) string {
	if !needsWork(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			if multiline {
				b.WriteRune(r)
			} else if r == '\n' {
				b.WriteString(`\n`)
			} else {
				b.WriteString(`\t`)
			}
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isC1(r) || isBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsWork is the fast path: plain printable ASCII needs nothing.
func needsWork(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c || r == 0x2028 || r == 0x2029
}

// Printable keeps text from files and the environment on one line, each
// control character (and U+2028, U+2029) replaced by '?': for values shown
// as they will be used, such as paths and URIs, where an escape would read
// as part of the value.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}
