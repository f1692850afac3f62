// Package textfmt holds the small text helpers the plain-text reports
// (plan, readiness) share: durations as a runbook writes them, one-line
// text, wrapping and padding by runes for an 80-column terminal.
package textfmt

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration renders a runbook duration as it is written: 4h, 1h30m, 90s.
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// OneLine folds text onto one line: runs of white space become one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Pad pads s with spaces to n runes.
func Pad(s string, n int) string {
	if w := utf8.RuneCountInString(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// OrDash is s, or "-" when it is empty (a table cell).
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Sorted returns a sorted copy of list.
func Sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// Wrap breaks text into lines of at most width runes at spaces, keeping its
// own line breaks; a word longer than width is cut. A width under 10 is
// taken as 10.
func Wrap(text string, width int) []string {
	if width < 10 {
		width = 10
	}
	var out []string
	for _, para := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		cur := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width {
				if cur != "" {
					out = append(out, cur)
					cur = ""
				}
				r := []rune(word)
				out = append(out, string(r[:width]))
				word = string(r[width:])
			}
			switch {
			case cur == "":
				cur = word
			case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
				cur += " " + word
			default:
				out = append(out, cur)
				cur = word
			}
		}
		out = append(out, cur)
	}
	return out
}
