package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// segment is a stretch of one step: work, or waiting at a gate.
type segment struct {
	From, To time.Time
	Wait     bool
}

// gatesByStep indexes a run's gates by step id, once per rendering.
func gatesByStep(doc *Doc) map[string][]Gate {
	m := make(map[string][]Gate)
	for _, g := range doc.Gates {
		m[g.Step] = append(m[g.Step], g)
	}
	return m
}

// stepSegments splits a step's span into work and the gate waits inside it.
func stepSegments(gates map[string][]Gate, s Step) []segment {
	if s.Started.IsZero() || !s.Ended.After(s.Started) {
		return nil
	}
	var waits []segment
	for _, g := range gates[s.ID] {
		if g.Opened.IsZero() {
			continue
		}
		to := g.Closed
		if to.IsZero() {
			to = g.Opened.Add(g.Wait)
		}
		from, to := maxTime(g.Opened, s.Started), minTime(to, s.Ended)
		if to.After(from) {
			waits = append(waits, segment{From: from, To: to, Wait: true})
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i].From.Before(waits[j].From) })
	var out []segment
	at := s.Started
	for _, w := range waits {
		if w.From.After(at) {
			out = append(out, segment{From: at, To: w.From})
		}
		if w.To.After(at) {
			out = append(out, segment{From: maxTime(w.From, at), To: w.To, Wait: true})
			at = w.To
		}
	}
	if s.Ended.After(at) {
		out = append(out, segment{From: at, To: s.Ended})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// span is the time range a timeline shows: the run, and the RTO target when
// it is not too far beyond the run (then it is marked off the chart).
type span struct {
	From, To time.Time
	// Target is when the RTO target falls; TargetIn says it is on the scale.
	Target   time.Time
	TargetIn bool
}

func timelineSpan(doc *Doc, targetFactor float64) span {
	var sp span
	for _, s := range doc.Timeline {
		if s.Started.IsZero() {
			continue
		}
		if sp.From.IsZero() || s.Started.Before(sp.From) {
			sp.From = s.Started
		}
		if s.Ended.After(sp.To) {
			sp.To = s.Ended
		}
	}
	if sp.From.IsZero() {
		sp.From = doc.Identification.Started
	}
	if !doc.Identification.Ended.IsZero() && doc.Identification.Ended.After(sp.To) {
		sp.To = doc.Identification.Ended
	}
	if !sp.To.After(sp.From) {
		sp.To = sp.From.Add(time.Minute)
	}
	rto := doc.Objectives.RTO
	if rto.Measured && rto.Target > 0 && !rto.From.IsZero() {
		sp.Target = rto.From.Add(rto.Target)
		// Far beyond the run, the bars would shrink to nothing.
		if float64(sp.Target.Sub(sp.From)) <= targetFactor*float64(sp.To.Sub(sp.From)) {
			sp.TargetIn = true
			if sp.Target.After(sp.To) {
				sp.To = sp.Target
			}
		}
	}
	return sp
}

// frac is where t falls on the span, from 0 to 1.
func (sp span) frac(t time.Time) float64 {
	f := float64(t.Sub(sp.From)) / float64(sp.To.Sub(sp.From))
	return math.Max(0, math.Min(1, f))
}

// TimelineText draws the run's timeline for a terminal, one line per step to
// scale within width columns (at least 48): order, step id, a bar where █ is
// work and ░ is waiting at a gate, the duration, and a short mark for what is
// not plain success (⚡ forced shutdown, ↻N retries, skipped, not run,
// ✗ failed). A header line gives the clock at both ends of the scale, a
// line the RTO clock (▲ start and stop, ┃ target; → when the target is beyond
// the scale), a last line the legend. No line is wider than width runes.
func TimelineText(doc *Doc, width int) []string {
	if width < 48 {
		width = 48
	}
	d := visibleDoc(doc)
	// A terminal has few columns: the scale is the run, and a target beyond
	// it is an arrow.
	sp := timelineSpan(d, 1)
	const idw, durw, markw = 16, 6, 8
	prefix := 3 + idw + 1 // "12 step-id          "
	barw := width - prefix - 2 - 1 - durw - 1 - markw
	col := func(t time.Time) int { return min(int(math.Floor(sp.frac(t)*float64(barw))), barw-1) }
	cell := func(t time.Time) int { return int(math.Round(sp.frac(t) * float64(barw))) }
	mark := func(t time.Time) int { return min(cell(t), barw-1) }
	var lines []string

	from, to := sp.From.UTC().Format("15:04"), sp.To.UTC().Format("15:04")
	lines = append(lines, fitLine(strings.Repeat(" ", prefix)+" "+from+strings.Repeat(" ", max(1, barw-len(from)-len(to)))+to+
		"  (UTC, "+compactDuration(sp.To.Sub(sp.From))+")", width))
	gates := gatesByStep(d)
	for _, s := range d.Timeline {
		bar := []rune(strings.Repeat(" ", barw))
		// Work first, then waits over it: a wait of a few seconds still shows.
		for _, wait := range []bool{false, true} {
			for _, seg := range stepSegments(gates, s) {
				if seg.Wait != wait {
					continue
				}
				a, b := cell(seg.From), cell(seg.To)
				for i := a; i < max(b, a+1) && i < barw; i++ {
					bar[i] = map[bool]rune{false: '█', true: '░'}[wait]
				}
			}
		}
		var marks []string
		switch s.Result {
		case "succeeded":
		case "skipped":
			if !s.Started.IsZero() {
				bar[col(s.Started)] = '·'
			}
			marks = append(marks, "skipped")
		case "not_executed":
			marks = append(marks, "not run")
		case "failed":
			marks = append(marks, "✗ failed")
		default:
			marks = append(marks, s.Result)
		}
		if len(s.ForcedShutdowns) > 0 {
			marks = append(marks, "⚡")
		}
		if s.Retries > 0 {
			marks = append(marks, fmt.Sprintf("↻%d", s.Retries))
		}
		dur := ""
		if !s.Started.IsZero() && (s.Duration > 0 || s.Result == "succeeded") {
			dur = compactDuration(s.Duration)
		}
		lines = append(lines, fitLine(fmt.Sprintf("%2d %-*s │%s│ %*s %s", s.Order, idw, clip(s.ID, idw), string(bar), durw, dur, strings.Join(marks, " ")), width))
	}
	if rto := d.Objectives.RTO; rto.Measured {
		bar := []rune(strings.Repeat(" ", barw))
		if !rto.From.IsZero() && !rto.To.IsZero() {
			for i := mark(rto.From); i <= mark(rto.To); i++ {
				bar[i] = '─'
			}
			bar[mark(rto.From)], bar[mark(rto.To)] = '▲', '▲'
		}
		end := "│"
		if sp.TargetIn {
			bar[mark(sp.Target)] = '┃'
		} else if !sp.Target.IsZero() {
			end = "→"
		}
		lines = append(lines, fitLine(fmt.Sprintf("%2s %-*s │%s%s %*s %s", "", idw, "RTO", string(bar), end, durw,
			compactDuration(rto.Achieved), rto.Verdict()), width))
	}
	lines = append(lines, fitLine("   █ work  ░ gate wait  ▲ RTO start/stop  ┃ RTO target", width))
	return lines
}

// compactDuration is a short duration for the terminal: 42s, 4m30s, 1h05m.
func compactDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// clip shortens s to n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fitLine cuts a line to width runes (the timeline uses single-width runes).
func fitLine(s string, width int) string {
	s = strings.TrimRight(s, " ")
	return clip(s, width)
}
