package plan

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
)

// pageWidth is the width the text plan is laid out for.
const pageWidth = 80

// labelWidth is the width of the labels of a step's detail lines.
const labelWidth = 9

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, strings.TrimRight(s, " ")+"\n")
	}
}

// field prints "label  text" with text wrapped under itself.
func (p *printer) field(indent int, label string, width int, text string) {
	pad := strings.Repeat(" ", indent)
	lines := textfmt.Wrap(text, pageWidth-indent-width-1)
	for i, l := range lines {
		if i == 0 {
			p.line(pad + textfmt.Pad(label, width) + " " + l)
		} else {
			p.line(pad + strings.Repeat(" ", width+1) + l)
		}
	}
}

// Write lays the plan out as text for an 80-column terminal.
func (p *Doc) Write(w io.Writer) error {
	pr := &printer{w: w}
	rb := p.rb
	head := rb.Name
	if rb.Title != "" && rb.Title != rb.Name {
		head += ": " + rb.Title
	}
	for i, l := range textfmt.Wrap(head, pageWidth-2) {
		if i > 0 {
			l = "  " + l
		}
		pr.line(l)
	}
	p.writeHead(pr)
	p.writeSites(pr)
	p.writeSteps(pr)
	return pr.err
}

// hw is the width of the labels of the plan's head.
const hw = 8

func (p *Doc) writeHead(pr *printer) {
	rb := p.rb
	pr.field(2, "file", hw, p.File)
	pr.field(2, "sha256", hw, p.SHA256)
	skipped := 0
	for _, s := range p.Steps {
		if !s.Runs {
			skipped++
		}
	}
	counts := fmt.Sprintf("%s: all %d steps run", p.Mode, len(p.Steps))
	if len(p.Steps) == 1 {
		counts = p.Mode + ": its one step runs"
	}
	if skipped > 0 {
		counts = fmt.Sprintf("%s: %d of %d steps run, %d skipped", p.Mode, len(p.Steps)-skipped, len(p.Steps), skipped)
	}
	pr.field(2, "mode", hw, counts)
	pr.field(2, "RTO", hw, rtoLine(p))
	if rb.RPO > 0 {
		pr.field(2, "RPO", hw, textfmt.Spelled(rb.RPO)+" target")
	}
	p.writeVars(pr)
	pr.field(2, "failure", hw, "a step that fails after its retries asks what to do (with --auto-approve: aborts the run), unless it says otherwise")
}

func (p *Doc) writeVars(pr *printer) {
	for i, v := range p.Vars {
		label := ""
		if i == 0 {
			label = "vars"
		}
		val := v.Value
		if v.IsList {
			val = "[" + strings.Join(v.List, ", ") + "]"
		}
		suffix := ""
		if v.Overridden {
			suffix = " (--var)"
		}
		// A long value is cut here: the steps show it in full, substituted.
		room := pageWidth - 2 - hw - 1 - utf8.RuneCountInString(v.Name+" = "+suffix)
		if val = textfmt.OneLine(val); utf8.RuneCountInString(val) > room {
			val = string([]rune(val)[:max(room-1, 10)]) + "…"
		}
		pr.field(2, label, hw, v.Name+" = "+val+suffix)
	}
}

func (p *Doc) writeSites(pr *printer) {
	pr.line("")
	pr.line("Sites")
	nw, rw := 0, 0
	for _, s := range p.Sites {
		nw, rw = max(nw, utf8.RuneCountInString(s.Name)), max(rw, len(s.Role))
	}
	for _, s := range p.Sites {
		lead := "  " + textfmt.Pad(s.Name, nw) + "  " + textfmt.Pad(s.Role, rw) + "  "
		uris := s.URIs
		if len(uris) == 0 {
			uris = []string{s.URI}
		}
		if utf8.RuneCountInString(lead)+utf8.RuneCountInString(uris[0]) <= pageWidth && len(uris) == 1 {
			pr.line(lead + uris[0])
		} else {
			pr.line(strings.TrimRight(lead, " "))
			for _, u := range uris {
				for _, l := range textfmt.Wrap(u, pageWidth-4) {
					pr.line("    " + l)
				}
			}
		}
		if s.MaxPerHost > 0 {
			pr.line("    " + perHost(s.MaxPerHost))
		}
	}
}

func (p *Doc) writeSteps(pr *printer) {
	pr.line("")
	pr.line("Steps")
	numw := len(strconv.Itoa(len(p.Steps)))
	indent := 2 + numw + 2
	for i, s := range p.Steps {
		if i > 0 {
			pr.line("")
		}
		writePlanStep(pr, s, numw, indent)
	}
}

func rtoLine(p *Doc) string {
	rb := p.rb
	target := "no target"
	if rb.RTO > 0 {
		target = textfmt.Spelled(rb.RTO) + " target"
	}
	if p.RTOClock == nil {
		return target + "; no step says rto: start, so the recovery time is not measured"
	}
	var start, stop Step
	for _, s := range p.Steps {
		switch s.ID {
		case p.RTOClock.Start:
			start = s
		case p.RTOClock.Stop:
			stop = s
		}
	}
	line := fmt.Sprintf("%s; the clock runs from the start of step %d %s to the end of step %d %s",
		target, start.Index, start.ID, stop.Index, stop.ID)
	if !start.Runs {
		line += fmt.Sprintf("; %s is skipped in %s mode, and the clock starts where it would have run", start.ID, p.Mode)
	}
	if !stop.Runs {
		line += fmt.Sprintf("; %s is skipped in %s mode, and the clock stops where it would have run", stop.ID, p.Mode)
	}
	return line
}

func writePlanStep(pr *printer, s Step, numw, indent int) {
	st := s.st
	head := []string{s.ID, s.Kind}
	switch {
	case !s.Runs:
		head = append(head, "SKIPPED")
	case st.Gate == runbooks.GateTyped:
		head = append(head, fmt.Sprintf("gate: type %q", s.Typed))
	case st.Gate == runbooks.GateConfirm:
		head = append(head, "gate: confirm")
	case st.Kind == runbooks.KindManual:
		head = append(head, "waits for the operator")
	}
	if st.Approvers > 1 && s.Runs {
		head = append(head, fmt.Sprintf("%d approvers", st.Approvers))
	}
	switch st.RTO {
	case runbooks.RTOStart:
		head = append(head, "RTO clock starts")
	case runbooks.RTOStop:
		head = append(head, "RTO clock stops")
	}
	num := fmt.Sprintf("%*d", numw, s.Index)
	hl := textfmt.Wrap(strings.Join(head, " · "), pageWidth-indent)
	pad := strings.Repeat(" ", indent)
	for i, l := range hl {
		if i == 0 {
			pr.line("  " + num + "  " + l)
		} else {
			pr.line(pad + l)
		}
	}
	if st.Title != st.ID {
		for _, l := range textfmt.Wrap(st.Title, pageWidth-indent) {
			pr.line(pad + l)
		}
	}
	if !s.Runs {
		pr.field(indent, "skipped", labelWidth, s.SkipReason)
	}
	if st.Description != "" {
		pr.field(indent, "about", labelWidth, st.Description)
	}
	for _, f := range st.Details() {
		pr.field(indent, f[0], labelWidth, f[1])
	}
	if s.MaxPerHost > 0 && len(s.Targets) > 0 {
		pr.field(indent, "per host", labelWidth, fmt.Sprintf("at most %d at once on any one host of %s", s.MaxPerHost, s.Targets[0].Site))
	}
	// A step skipped for its own modes or skip_in already says so above.
	if len(st.Modes) > 0 && (s.Runs || !strings.HasPrefix(s.SkipReason, "runs only in")) {
		pr.field(indent, "modes", labelWidth, "runs only in "+strings.Join(st.Modes, ", "))
	}
	if len(st.SkipIn) > 0 && (s.Runs || !strings.HasPrefix(s.SkipReason, "skip_in")) {
		pr.field(indent, "skip in", labelWidth, strings.Join(st.SkipIn, ", "))
	}
	if st.Timeout > 0 {
		pr.field(indent, "limit", labelWidth, "the whole step may take "+textfmt.Spelled(st.Timeout)+", retries excepted")
	}
	if f := failure(st); f != "" {
		pr.field(indent, "failure", labelWidth, f)
	}
}

// failure describes a step's failure policy when it is not the default.
func failure(st *runbooks.Step) string {
	var parts []string
	if st.Retries > 0 {
		parts = append(parts, retries(st.Retries, st.RetryDelay))
	}
	switch st.OnFailure {
	case runbooks.OnFailureAsk:
		parts = append(parts, "then asks what to do (with --auto-approve: aborts the run)")
	case runbooks.OnFailureAbort:
		parts = append(parts, "then aborts the run")
	case runbooks.OnFailureContinue:
		parts = append(parts, "then the run continues with the next step")
	}
	if len(parts) == 1 && st.Retries == 0 {
		return strings.TrimPrefix(parts[0], "then ")
	}
	return strings.Join(parts, "; ")
}

// retries says when the automatic retries happen: the delay doubles.
func retries(n int, delay time.Duration) string {
	var waits []string
	for i := 0; i < n && i < 4; i++ {
		waits = append(waits, textfmt.Spelled(delay<<i))
	}
	if n > 4 {
		waits = append(waits, "…")
	}
	if n == 1 {
		return "1 automatic retry, after " + waits[0]
	}
	return fmt.Sprintf("%d automatic retries: after %s", n, strings.Join(waits, ", then "))
}

// perHost says a site's bound on the actions at once on one host.
func perHost(n int) string {
	if n == 1 {
		return "at most one action at a time on any one host"
	}
	return fmt.Sprintf("at most %d actions at once on any one host", n)
}
