package runbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/repli-dr/repli/internal/safetext"
)

// Severity tells an error, which refuses the runbook, from a warning.
type Severity int

// Severities.
const (
	SevError Severity = iota
	SevWarning
)

// Diagnostic is one problem found in a runbook.
type Diagnostic struct {
	File     string
	Pos      Pos
	Severity Severity
	Message  string
}

// String renders the diagnostic as file:line:col: message.
func (d Diagnostic) String() string {
	sev := ""
	if d.Severity == SevWarning {
		sev = "warning: "
	}
	// Messages quote names and values from the file: made safe for a terminal.
	return safetext.Line(fmt.Sprintf("%s:%d:%d: %s%s", d.File, d.Pos.Line, d.Pos.Col, sev, d.Message))
}

// Diagnostics is every problem found in one runbook, sorted by position.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// Errors returns only the errors.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SevError {
			out = append(out, d)
		}
	}
	return out
}

// Error makes Diagnostics an error: one line per diagnostic.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (ds Diagnostics) sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// suggest returns ` — did you mean "x"?` when a known word is close to got.
func suggest(got string, known []string) string {
	best, bestD := "", -1
	for _, k := range known {
		d := levenshtein(strings.ToLower(got), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 0 || bestD > 2 || bestD > len([]rune(got))/2 {
		return ""
	}
	return fmt.Sprintf(" — did you mean %q?", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
