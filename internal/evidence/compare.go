package evidence

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
)

// Comparison is repli compare's answer; its JSON keys are a contract for
// scripts: add, never rename.
type Comparison struct {
	A, B ComparedRun    `json:"-"`
	Runs [2]ComparedRun `json:"runs"`
	// Relation says how the two runs are related: "same runbook",
	// "same runbook, another version", "B is the return to normal of A",
	// "A is the return to normal of B", or "different runbooks".
	Relation string        `json:"relation"`
	Runbook  RunbookDiff   `json:"runbook_diff"`
	Steps    []StepCompare `json:"steps"`
	RTO      MeasureDelta  `json:"rto"`
	RPO      MeasureDelta  `json:"rpo"`
}

type ComparedRun struct {
	ID        int64     `json:"id"`
	Runbook   string    `json:"runbook"`
	SHA256    string    `json:"runbook_sha256"`
	Mode      string    `json:"mode"`
	Started   time.Time `json:"started"`
	Outcome   string    `json:"outcome"`
	DurationS float64   `json:"duration_s"`
	Simulated bool      `json:"simulated"`
	GateWaitS float64   `json:"gate_wait_s"`
	ReturnOf  string    `json:"return_to_normal_of,omitempty"`
	Verified  bool      `json:"verified"`
}

type RunbookDiff struct {
	Same    bool          `json:"same"`
	Added   []string      `json:"added"`
	Removed []string      `json:"removed"`
	Changed []StepChanged `json:"changed"`
}

type StepChanged struct {
	ID     string   `json:"id"`
	Fields []string `json:"fields"`
}

type StepCompare struct {
	ID string `json:"id"`
	// In says where the step is: both, a or b.
	In        string   `json:"in"`
	ResultA   string   `json:"result_a,omitempty"`
	ResultB   string   `json:"result_b,omitempty"`
	DurationA *float64 `json:"duration_a_s"`
	DurationB *float64 `json:"duration_b_s"`
	DeltaS    *float64 `json:"delta_s"`
	GateWaitA *float64 `json:"gate_wait_a_s"`
	GateWaitB *float64 `json:"gate_wait_b_s"`
}

type MeasureDelta struct {
	TargetA   *float64 `json:"target_a_s"`
	TargetB   *float64 `json:"target_b_s"`
	AchievedA *float64 `json:"achieved_a_s"`
	AchievedB *float64 `json:"achieved_b_s"`
	VerdictA  string   `json:"verdict_a"`
	VerdictB  string   `json:"verdict_b"`
	DeltaS    *float64 `json:"delta_s"`
}

func secs(d time.Duration) *float64 { s := d.Seconds(); return &s }

func gateWaits(d *report.Doc) (map[string]time.Duration, time.Duration) {
	by := map[string]time.Duration{}
	var total time.Duration
	for _, g := range d.Gates {
		by[g.Step] += g.Wait
		total += g.Wait
	}
	return by, total
}

func describe(r *Run) ComparedRun {
	id := r.Doc.Identification
	_, wait := gateWaits(r.Doc)
	c := ComparedRun{ID: id.RunID, Runbook: id.Runbook, SHA256: id.RunbookSHA256, Mode: id.Mode, Started: id.Started,
		Outcome: id.Outcome, Simulated: id.Simulated, GateWaitS: wait.Seconds(), Verified: r.Doc.Integrity.Verified}
	end := id.Ended
	if end.IsZero() {
		end = r.Progress.LastAt
	}
	c.DurationS = end.Sub(id.Started).Seconds()
	return c
}

// Compare puts two runs side by side: A is typically last year's drill,
// B this year's.
func Compare(a, b *Run) Comparison {
	c := Comparison{A: describe(a), B: describe(b)}
	sa, sb := a.Progress.Started, b.Progress.Started
	switch {
	case reverses(b, sa.Runbook, sa.SHA256):
		c.Relation = "B is the return to normal of A"
		c.B.ReturnOf = fmt.Sprintf("run %d (%s)", c.A.ID, sa.Runbook)
	case reverses(a, sb.Runbook, sb.SHA256):
		c.Relation = "A is the return to normal of B"
		c.A.ReturnOf = fmt.Sprintf("run %d (%s)", c.B.ID, sb.Runbook)
	case sa.Runbook == sb.Runbook && sa.SHA256 == sb.SHA256:
		c.Relation = "same runbook"
	case sa.Runbook == sb.Runbook:
		c.Relation = "same runbook, another version"
	default:
		c.Relation = "different runbooks"
	}
	c.Runs = [2]ComparedRun{c.A, c.B}
	c.Runbook = diffRunbooks(a.Runbook, b.Runbook, a.Doc, b.Doc)

	stepsA, stepsB := map[string]report.Step{}, map[string]report.Step{}
	for _, s := range a.Doc.Timeline {
		stepsA[s.ID] = s
	}
	for _, s := range b.Doc.Timeline {
		stepsB[s.ID] = s
	}
	waitA, _ := gateWaits(a.Doc)
	waitB, _ := gateWaits(b.Doc)
	var ids []string
	seen := map[string]bool{}
	for _, list := range [][]report.Step{b.Doc.Timeline, a.Doc.Timeline} {
		for _, s := range list {
			if !seen[s.ID] {
				seen[s.ID] = true
				ids = append(ids, s.ID)
			}
		}
	}
	for _, id := range ids {
		x, inA := stepsA[id]
		y, inB := stepsB[id]
		sc := StepCompare{ID: id, In: "both"}
		switch {
		case !inA:
			sc.In = "b"
		case !inB:
			sc.In = "a"
		}
		if inA {
			sc.ResultA = x.Result
			if !x.Started.IsZero() {
				sc.DurationA = secs(x.Duration)
				sc.GateWaitA = secs(waitA[id])
			}
		}
		if inB {
			sc.ResultB = y.Result
			if !y.Started.IsZero() {
				sc.DurationB = secs(y.Duration)
				sc.GateWaitB = secs(waitB[id])
			}
		}
		if sc.DurationA != nil && sc.DurationB != nil {
			sc.DeltaS = secs(y.Duration - x.Duration)
		}
		c.Steps = append(c.Steps, sc)
	}
	c.RTO = deltaOf(a.Doc.Objectives.RTO, b.Doc.Objectives.RTO)
	c.RPO = deltaOf(a.Doc.Objectives.RPO, b.Doc.Objectives.RPO)
	return c
}

// reverses reports whether run r is the way back of the runbook name with
// that SHA-256: recorded with the run (run.started), or in the runbook
// recorded with it (reverse_of, written by repli reverse).
func reverses(r *Run, name, sha string) bool {
	of, ofSHA := r.Progress.Started.ReverseOf, r.Progress.Started.ReverseOfSHA256
	if of == "" && r.Runbook != nil && r.Runbook.ReverseOf != nil {
		of, ofSHA = r.Runbook.ReverseOf.Name, r.Runbook.ReverseOf.SHA256
	}
	return of != "" && of == name && (ofSHA == "" || ofSHA == sha)
}

func deltaOf(a, b report.Measure) MeasureDelta {
	m := MeasureDelta{VerdictA: a.Verdict(), VerdictB: b.Verdict()}
	if a.Target > 0 {
		m.TargetA = secs(a.Target)
	}
	if b.Target > 0 {
		m.TargetB = secs(b.Target)
	}
	if a.Measured {
		m.AchievedA = secs(a.Achieved)
	}
	if b.Measured {
		m.AchievedB = secs(b.Achieved)
	}
	if a.Measured && b.Measured {
		m.DeltaS = secs(b.Achieved - a.Achieved)
	}
	return m
}

// diffRunbooks compares the two runbooks step by step, by id; a step is
// changed when any of its settings differs (its place in the file aside).
// Without a runbook (one that no longer parses), the steps the run reached
// are compared by id, kind and action.
func diffRunbooks(a, b *runbooks.Runbook, da, db *report.Doc) RunbookDiff {
	d := RunbookDiff{Added: []string{}, Removed: []string{}, Changed: []StepChanged{}}
	fieldsA, fieldsB := stepFields(a, da), stepFields(b, db)
	for _, s := range db.Timeline {
		if _, ok := fieldsA[s.ID]; !ok {
			d.Added = append(d.Added, s.ID)
		}
	}
	for _, s := range da.Timeline {
		fb, ok := fieldsB[s.ID]
		if !ok {
			d.Removed = append(d.Removed, s.ID)
			continue
		}
		fa := fieldsA[s.ID]
		var changed []string
		for _, k := range sortedFieldNames(fa, fb) {
			if fa[k] != fb[k] {
				changed = append(changed, k)
			}
		}
		if len(changed) > 0 {
			d.Changed = append(d.Changed, StepChanged{ID: s.ID, Fields: changed})
		}
	}
	var orderA, orderB []string
	for _, s := range da.Timeline {
		orderA = append(orderA, s.ID)
	}
	for _, s := range db.Timeline {
		orderB = append(orderB, s.ID)
	}
	if len(d.Added) == 0 && len(d.Removed) == 0 && strings.Join(orderA, "\x00") != strings.Join(orderB, "\x00") {
		d.Changed = append(d.Changed, StepChanged{ID: "(order)", Fields: []string{"the steps are in another order"}})
	}
	d.Same = len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
	return d
}

// stepFields is each step's settings, field name → canonical JSON.
func stepFields(rb *runbooks.Runbook, doc *report.Doc) map[string]map[string]string {
	out := map[string]map[string]string{}
	if rb == nil {
		for _, s := range doc.Timeline {
			out[s.ID] = map[string]string{"kind": s.Kind, "title": s.Title}
		}
		return out
	}
	for _, s := range rb.Steps {
		f := map[string]string{}
		v := reflect.ValueOf(*s)
		t := v.Type()
		for i := range t.NumField() {
			name := t.Field(i).Name
			if name == "Pos" {
				continue
			}
			b, _ := json.Marshal(v.Field(i).Interface())
			f[strings.ToLower(name)] = string(b)
		}
		out[s.ID] = f
	}
	return out
}

func sortedFieldNames(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func fmtSecs(p *float64) string {
	if p == nil {
		return "—"
	}
	return textfmt.Duration(time.Duration(*p * float64(time.Second)))
}

func fmtDelta(p *float64) string {
	if p == nil {
		return "—"
	}
	d := time.Duration(*p * float64(time.Second)).Round(time.Second)
	switch {
	case d > 0:
		return "+" + textfmt.Duration(d)
	case d < 0:
		return "−" + textfmt.Duration(-d)
	}
	return "="
}

// WriteText writes the comparison for a terminal, every string from the
// trail made safe for it.
func (c Comparison) WriteText(out io.Writer) error {
	w := &textfmt.ErrWriter{W: safetext.Writer{W: out}}
	for i, r := range []ComparedRun{c.A, c.B} {
		sim := ""
		if r.Simulated {
			sim = " · simulated"
		}
		ret := ""
		if r.ReturnOf != "" {
			ret = " · return to normal of " + r.ReturnOf
		}
		fmt.Fprintf(w, "%c: run %d · %s · %s mode · %s · %s · took %s%s%s\n", 'A'+i, r.ID, safetext.Line(r.Runbook), safetext.Line(r.Mode),
			r.Started.UTC().Format("2006-01-02 15:04Z"), textfmt.Outcome(r.Outcome), textfmt.Duration(time.Duration(r.DurationS*float64(time.Second))), sim, ret)
	}
	fmt.Fprintf(w, "Relation: %s\n\n", c.Relation)
	if c.Runbook.Same {
		fmt.Fprintln(w, "Runbook: the same steps, with the same settings.")
	} else {
		fmt.Fprintln(w, "Runbook diff (A → B):")
		for _, s := range c.Runbook.Added {
			fmt.Fprintf(w, "  + %s (added)\n", safetext.Line(s))
		}
		for _, s := range c.Runbook.Removed {
			fmt.Fprintf(w, "  - %s (removed)\n", safetext.Line(s))
		}
		for _, s := range c.Runbook.Changed {
			fmt.Fprintf(w, "  ~ %s (changed: %s)\n", safetext.Line(s.ID), safetext.Line(strings.Join(s.Fields, ", ")))
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tA\tB\tDELTA\tGATE WAIT A\tGATE WAIT B\tRESULT A → B")
	for _, s := range c.Steps {
		res := textfmt.Result(s.ResultA) + " → " + textfmt.Result(s.ResultB)
		switch s.In {
		case "a":
			res = textfmt.Result(s.ResultA) + " → (not in B)"
		case "b":
			res = "(not in A) → " + textfmt.Result(s.ResultB)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safetext.Line(s.ID), fmtSecs(s.DurationA), fmtSecs(s.DurationB), fmtDelta(s.DeltaS), fmtSecs(s.GateWaitA), fmtSecs(s.GateWaitB), res)
	}
	fmt.Fprintf(tw, "(all gates)\t\t\t\t%s\t%s\t\n", fmtSecs(&c.A.GateWaitS), fmtSecs(&c.B.GateWaitS))
	tw.Flush()
	fmt.Fprintln(w)
	for _, m := range []struct {
		name string
		d    MeasureDelta
	}{{"RTO", c.RTO}, {"RPO", c.RPO}} {
		fmt.Fprintf(w, "%s: A %s (target %s, %s) · B %s (target %s, %s) · delta %s\n", m.name,
			fmtSecs(m.d.AchievedA), fmtSecs(m.d.TargetA), textfmt.Verdict(m.d.VerdictA),
			fmtSecs(m.d.AchievedB), fmtSecs(m.d.TargetB), textfmt.Verdict(m.d.VerdictB), fmtDelta(m.d.DeltaS))
	}
	return w.Err
}
