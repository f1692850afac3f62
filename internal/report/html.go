package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; each render clones it with the language's
// functions. html/template escapes every value by context (text, attribute,
// CSS string, SVG), so no string from the Doc is ever markup.
var htmlTemplate = template.Must(template.New("report").Funcs(funcs(lang{code: "en"}, nil)).Parse(htmlSource))

func renderHTML(w io.Writer, d *Doc, l lang) error {
	t, err := htmlTemplate.Clone()
	if err != nil {
		return fmt.Errorf("prepare template: %w", err)
	}
	v := newView(d, l)
	return t.Funcs(funcs(l, d)).Execute(w, v)
}

// view is what the templates read: the (already visible-made) Doc and what
// is computed from it once.
type view struct {
	D     *Doc
	Lang  string
	Title string
	Chart chart
	// SignOff is who signs the printed report under the operator: each
	// approver and observer once.
	SignOff []Person
}

func newView(d *Doc, l lang) *view {
	v := &view{D: d, Lang: l.code, Chart: newChart(d, l)}
	seen := map[string]bool{d.People.Operator.Name: true}
	for _, a := range d.People.Approvers {
		if !seen[a.Name] {
			seen[a.Name] = true
			v.SignOff = append(v.SignOff, Person{Name: a.Name, Role: a.Role})
		}
	}
	for _, o := range d.People.Observers {
		if !seen[o.Name] {
			seen[o.Name] = true
			v.SignOff = append(v.SignOff, o)
		}
	}
	v.Title = l.Word("title", d.Identification.Plan)
	if v.Title == d.Identification.Plan {
		v.Title = l.T("title.other")
	}
	return v
}

// funcs are the template functions for one language. d may be nil (parse).
func funcs(l lang, d *Doc) template.FuncMap {
	runDay := time.Time{}
	if d != nil {
		runDay = d.Identification.Started.UTC()
	}
	return template.FuncMap{
		"t":     l.T,
		"tf":    l.Tf,
		"word":  l.Word,
		"date":  l.Date,
		"day":   l.Day,
		"dur":   l.Duration,
		"pct":   l.Percent,
		"num":   func(n any) string { return l.Number(toInt64(n)) },
		"yesno": l.YesNo,
		// when is the clock time for a moment on the run's day, else the date.
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			u := t.UTC()
			if u.Year() == runDay.Year() && u.YearDay() == runDay.YearDay() {
				return l.Clock(u)
			}
			return l.Date(u)
		},
		"elapsed": func(from, to time.Time) string {
			if from.IsZero() || to.IsZero() {
				return "—"
			}
			return l.Duration(to.Sub(from))
		},
		"join": func(xs []string) string {
			if len(xs) == 0 {
				return "—"
			}
			return strings.Join(xs, ", ")
		},
		"orDash": func(s string) string {
			if s == "" {
				return "—"
			}
			return s
		},
		"verdict": func(m Measure) string { return m.Verdict() },
		"glyph": func(verdict string) string {
			switch verdict {
			case "pass", "succeeded", "ok", "true":
				return "✓"
			case "fail", "failed", "aborted", "false", "blocker":
				return "✗"
			case "skipped", "not_executed", "not_measured", "warning", "interrupted", "running":
				return "⚠"
			}
			return "•"
		},
		"okword": func(ok bool) string {
			if ok {
				return "ok"
			}
			return "fail"
		},
		"decision": func(dc Decision) string {
			if dc.Choice != "" {
				return l.Word("choice", dc.Choice)
			}
			if dc.Approved {
				return l.T("approved")
			}
			return l.T("refused")
		},
		"reverify": func(s Signature) string { return sshKeygenRecipe(s) },
		"repliVerify": func() string {
			file := "audit.db"
			if d != nil && d.Integrity.AuditFile != "" {
				file = d.Integrity.AuditFile
			}
			return "repli verify --db " + shellQuote(file)
		},
		"f1": func(x float64) string { return fmt.Sprintf("%.1f", x) },
	}
}

func toInt64(n any) int64 {
	switch v := n.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	}
	return 0
}

// shellQuote quotes s for a POSIX shell: strings from outside are quoted
// before any shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshKeygenRecipe is a shell script that re-verifies one signature with
// ssh-keygen alone: it recreates the signed message, the signature and the
// allowed_signers line from the report's own text.
func sshKeygenRecipe(s Signature) string {
	var b strings.Builder
	fmt.Fprintf(&b, "printf '%%s' %s > message.txt\n", shellQuote(s.Message))
	fmt.Fprintf(&b, "cat > message.txt.sig <<'EOF'\n%s\nEOF\n", strings.TrimRight(s.Armored, "\n"))
	fmt.Fprintf(&b, "printf '%%s\\n' %s > allowed_signers\n", shellQuote(s.AllowedSigners))
	fmt.Fprintf(&b, "ssh-keygen -Y verify -f allowed_signers -I %s -n %s -s message.txt.sig < message.txt",
		shellQuote(s.Principal), shellQuote(s.Namespace))
	return b.String()
}

// chart is the timeline as SVG geometry, in viewBox units.
type chart struct {
	W, H            float64
	Left, Right     float64 // the bars' area
	Top, RowH, BarH float64
	Ticks           []tick
	Rows            []row
	Marks           []mark // RTO start, stop and target
	TargetOff       string // label when the target is beyond the chart
	Band            *bar   // the RTO clock running, shaded behind the bars
}

type tick struct {
	X     float64
	Label string
}

type row struct {
	Y, TextY float64
	Label    string
	Bars     []bar
	Note     string  // skipped, not executed, failed…
	NoteX    float64 // where the note starts (or ends, with NoteEnd)
	NoteEnd  bool    // the note is drawn left of the bar: no room on the right
	Forced   bool
	ForcedX  float64
	Title    string // tooltip
}

type bar struct {
	X, W float64
	Wait bool
}

type mark struct {
	X      float64
	Label  string
	Kind   string // rto-start, rto-stop, rto-target
	LabelY float64
	Anchor string
}

func newChart(d *Doc, l lang) chart {
	c := chart{W: 1000, Left: 215, Right: 985, Top: 46, RowH: 26, BarH: 15}
	sp := timelineSpan(d, 3)
	x := func(t time.Time) float64 { return round1(c.Left + sp.frac(t)*(c.Right-c.Left)) }
	c.H = c.Top + float64(len(d.Timeline))*c.RowH + 16

	// Ticks every 1, 2, 5, 10, 15, 30 or 60 minutes, at most 10.
	total := sp.To.Sub(sp.From)
	step := time.Minute
	for _, s := range []time.Duration{1, 2, 5, 10, 15, 20, 30, 60, 120, 240} {
		step = s * time.Minute
		if total/step <= 10 {
			break
		}
	}
	for t := sp.From.Truncate(step); !t.After(sp.To); t = t.Add(step) {
		if t.Before(sp.From) {
			continue
		}
		c.Ticks = append(c.Ticks, tick{X: x(t), Label: t.UTC().Format("15:04")})
	}
	gates := gatesByStep(d)
	for i, s := range d.Timeline {
		r := row{Y: round1(c.Top + float64(i)*c.RowH + (c.RowH-c.BarH)/2)}
		r.TextY = round1(r.Y + c.BarH - 2)
		r.Label = clip(fmt.Sprintf("%d. %s", s.Order, s.ID), 28)
		end := c.Left
		for _, seg := range stepSegments(gates, s) {
			a, b := x(seg.From), x(seg.To)
			r.Bars = append(r.Bars, bar{X: a, W: round1(math.Max(b-a, 1.5)), Wait: seg.Wait})
			end = math.Max(end, a+math.Max(b-a, 1.5))
		}
		if !s.Started.IsZero() && len(r.Bars) == 0 {
			end = x(s.Started)
		}
		r.Title = fmt.Sprintf("%s — %s → %s (%s)", s.ID, l.Clock(s.Started), l.Clock(s.Ended), l.Duration(s.Duration))
		if s.Result != "succeeded" {
			r.Note = l.Word("result", s.Result)
		}
		if len(s.ForcedShutdowns) > 0 {
			r.Forced, r.ForcedX = true, round1(end+1)
			end += 12
			r.Note = strings.TrimSpace(r.Note + " " + l.T("chart.forced"))
		}
		if s.Retries > 0 {
			r.Note = strings.TrimSpace(r.Note + " " + l.Tf("chart.retries", s.Retries))
		}
		r.NoteX = round1(end + 4)
		// About 7 units a character at the chart's font size.
		if r.Note != "" && r.NoteX+7*float64(utf8.RuneCountInString(r.Note)) > c.W && len(r.Bars) > 0 {
			r.NoteX, r.NoteEnd = round1(r.Bars[0].X-4), true
		}
		c.Rows = append(c.Rows, r)
	}
	rto := d.Objectives.RTO
	if rto.Measured {
		if !rto.From.IsZero() {
			c.Marks = append(c.Marks, mark{X: x(rto.From), Label: l.T("chart.rto_start"), Kind: "rto-start", LabelY: 34, Anchor: "end"})
		}
		if !rto.From.IsZero() && rto.To.After(rto.From) {
			c.Band = &bar{X: x(rto.From), W: round1(x(rto.To) - x(rto.From))}
		}
		if !rto.To.IsZero() {
			m := mark{X: x(rto.To), Label: l.T("chart.rto_stop") + " " + l.Duration(rto.Achieved), Kind: "rto-stop", LabelY: 34, Anchor: "start"}
			if m.X+7*float64(utf8.RuneCountInString(m.Label)) > c.W {
				m.Anchor = "end"
			}
			c.Marks = append(c.Marks, m)
		}
		if sp.TargetIn {
			c.Marks = append(c.Marks, mark{X: x(sp.Target), Label: l.T("chart.rto_target") + " " + l.Duration(rto.Target), Kind: "rto-target", LabelY: 34, Anchor: "end"})
		} else if !sp.Target.IsZero() {
			c.TargetOff = l.T("chart.rto_target") + " " + l.Duration(rto.Target) + " → " + l.Clock(sp.Target)
		}
	}
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
