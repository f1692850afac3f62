package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// mdWriter writes Markdown and keeps the first write error: after one, it
// writes nothing more and renderMarkdown returns it.
type mdWriter struct {
	w   io.Writer
	err error
	l   lang
	f   map[string]any
}

func (m *mdWriter) p(format string, args ...any) {
	if m.err != nil {
		return
	}
	_, m.err = fmt.Fprintf(m.w, format, args...)
}

func (m *mdWriter) line(s string) { m.p("%s\n", s) }

// mdEscape escapes text for Markdown: every character that could start
// markup inline, plus block markers at the start. Line breaks never reach
// here (Visible turned them into ␊).
func mdEscape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '{', '}':
			b.WriteByte('\\')
		case '#', '-', '+', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			// "1. " or "1) " at the start would open an ordered list.
			if i > 0 && strings.Trim(s[:i], "0123456789") == "" && (i+1 == len(s) || s[i+1] == ' ') {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode is s as an inline code span, safe inside a table cell.
func mdCode(s string) string {
	if s == "" {
		return "—"
	}
	ticks := longestRun(s, '`') + 1
	fence := strings.Repeat("`", ticks)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

func longestRun(s string, c rune) int {
	best, cur := 0, 0
	for _, r := range s {
		if r == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// block writes a fenced code block that nothing in s can close.
func (m *mdWriter) block(s string) {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	m.p("%s\n%s\n%s\n\n", fence, strings.TrimRight(s, "\n"), fence)
}

// row writes a table row of already-formatted cells.
func (m *mdWriter) row(cells ...string) { m.p("| %s |\n", strings.Join(cells, " | ")) }

func (m *mdWriter) head(cells ...string) {
	m.row(cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	m.row(seps...)
}

// kv writes a two-column table of label and value.
func (m *mdWriter) kv(pairs ...string) {
	m.head(" ", " ")
	for i := 0; i+1 < len(pairs); i += 2 {
		m.row("**"+pairs[i]+"**", pairs[i+1])
	}
	m.line("")
}

func (m *mdWriter) none() { m.p("_%s_\n\n", mdEscape(m.l.T("none"))) }

// mdDoc renders one Doc as Markdown: the writer plus the helpers every
// section shares. Each section is one method, in report order.
type mdDoc struct {
	*mdWriter
	d *Doc
}

func renderMarkdown(w io.Writer, d *Doc, l lang) error {
	m := mdDoc{mdWriter: &mdWriter{w: w, l: l, f: funcs(l, d)}, d: d}
	title := newView(d, l).Title
	m.header(title)
	m.summary()
	m.identification()
	m.people()
	m.readiness()
	m.timeline()
	m.gates()
	m.objectives()
	m.validation()
	m.deviations()
	m.final()
	m.findings()
	m.restores()
	m.integrity()
	m.footer()
	return m.err
}

// t is the escaped translation of key k.
func (m mdDoc) t(k string) string { return mdEscape(m.l.T(k)) }

// orDash is s escaped, or a dash when empty.
func (m mdDoc) orDash(s string) string {
	if s == "" {
		return "—"
	}
	return mdEscape(s)
}

// join is xs as comma-separated code spans, or a dash when empty.
func (m mdDoc) join(xs []string) string {
	if len(xs) == 0 {
		return "—"
	}
	cs := make([]string, len(xs))
	for i, x := range xs {
		cs[i] = mdCode(x)
	}
	return strings.Join(cs, ", ")
}

func (m mdDoc) when(at time.Time) string {
	return mdEscape(m.f["when"].(func(time.Time) string)(at))
}

func (m mdDoc) glyph(v string) string { return m.f["glyph"].(func(string) string)(v) }

func (m mdDoc) verdict(ms Measure) string {
	v := ms.Verdict()
	return m.glyph(v) + " **" + mdEscape(m.l.Word("verdict", v)) + "**"
}

func (m mdDoc) yes(b bool, key string) string {
	if b {
		return "✓ " + m.t(key)
	}
	return "✗ " + mdEscape(m.l.T("no"))
}

// measured is a verdict with the achieved and target figures when measured.
func (m mdDoc) measured(ms Measure) string {
	if !ms.Measured {
		return m.verdict(ms)
	}
	return m.verdict(ms) + " — " + mdEscape(m.l.Duration(ms.Achieved)) + " / " + m.t("target") + " " + mdEscape(m.l.Duration(ms.Target))
}

// outcome is the run's outcome word with its glyph and reason.
func (m mdDoc) outcome() string {
	id := m.d.Identification
	out := m.glyph(id.Outcome) + " **" + mdEscape(m.l.Word("outcome", id.Outcome)) + "**"
	if id.Reason != "" {
		out += " — " + mdEscape(id.Reason)
	}
	return out
}

// console is a host, with the SSH client it was reached from if any.
func (m mdDoc) console(host, sshClient string) string {
	c := m.orDash(host)
	if sshClient != "" {
		c += " (" + m.t("from") + " " + mdEscape(sshClient) + ")"
	}
	return c
}

func (m mdDoc) header(title string) {
	e, t, id := mdEscape, m.t, m.d.Identification
	m.p("# %s\n\n", e(title))
	m.p("%s · %s %s · %s %d · %s\n\n", m.orDash(id.Title), t("runbook"), mdCode(id.Runbook), t("run"), id.RunID, e(m.l.Date(id.Started)))
	if id.Simulated {
		m.p("> ⚠ **%s**\n\n", t("banner.simulated"))
	}
}

func (m mdDoc) summary() {
	e, t, id, d := mdEscape, m.t, m.d.Identification, m.d
	m.p("**%s**\n\n", t("summary"))
	chain := "✓ " + t("chain.verified")
	if !d.Integrity.Verified {
		chain = "✗ **" + t("chain.not_verified") + "**"
	}
	m.kv(t("outcome"), m.outcome(), t("rto"), m.measured(d.Objectives.RTO), t("rpo"), m.measured(d.Objectives.RPO), t("integrity"), chain,
		t("duration"), e(m.f["elapsed"].(func(time.Time, time.Time) string)(id.Started, id.Ended))+" ("+m.when(id.Started)+" → "+m.when(id.Ended)+")",
		t("sec.deviations"), strconv.Itoa(len(d.Deviations)), t("sec.findings"), strconv.Itoa(len(d.Findings)))
	m.p("_%s_\n\n", t("times_utc"))
}

// identification is section 1.
func (m mdDoc) identification() {
	e, t, l, id := mdEscape, m.t, m.l, m.d.Identification
	m.p("## 1. %s\n\n", t("sec.identification"))
	sites := t("real")
	if id.Simulated {
		sites = "⚠ " + t("simulated")
	}
	m.kv(t("run_id"), strconv.FormatInt(id.RunID, 10), t("runbook"), mdCode(id.Runbook)+" — "+m.orDash(id.Title),
		t("runbook_version"), m.orDash(id.RunbookVersion), t("runbook_file"), mdCode(id.RunbookFile),
		"SHA-256", mdCode(id.RunbookSHA256), t("repli_version"), e(id.RepliVersion), t("plan"), m.orDash(id.Plan),
		t("mode"), e(l.Word("mode", id.Mode)), t("sites_kind"), sites, t("started"), e(l.Date(id.Started)),
		t("ended"), e(l.Date(id.Ended)), t("outcome"), m.outcome(), t("console"), m.console(id.ConsoleHost, id.SSHClient))
	m.p("### %s\n\n", t("scope"))
	m.head(t("site"), t("role"), "URI", t("sites_kind"))
	for _, s := range id.Sites {
		kind := t("real")
		if s.Simulated {
			kind = t("simulated")
		}
		m.row(e(s.Name), e(l.Word("role", s.Role)), mdCode(s.URI), kind)
	}
	m.line("")
	m.kv(t("hosts"), m.join(id.Hosts), t("domains"), m.join(id.Domains), t("rto_target"), e(l.Duration(id.RTOTarget)), t("rpo_target"), e(l.Duration(id.RPOTarget)))
}

// people is section 2.
func (m mdDoc) people() {
	e, t, p := mdEscape, m.t, m.d.People
	m.p("## 2. %s\n\n### %s\n\n", t("sec.people"), t("operator"))
	op := e(p.Operator.Name)
	if p.Operator.Role != "" {
		op += " — " + e(p.Operator.Role)
	}
	m.kv(t("name"), op, t("console"), m.console(p.Operator.Host, p.Operator.SSHClient))
	m.p("### %s\n\n", t("approvers"))
	if len(p.Approvers) == 0 {
		m.none()
	} else {
		m.head(t("name"), t("role"), t("step"), t("when"), t("signed"))
		for _, a := range p.Approvers {
			signed := m.yes(a.Signed, "yes")
			if a.Signed && a.Key != "" {
				signed += " " + mdCode(a.Key)
			}
			m.row(e(a.Name), m.orDash(a.Role), mdCode(a.Step), m.when(a.At), signed)
		}
		m.line("")
	}
	m.p("### %s\n\n", t("observers"))
	if len(p.Observers) == 0 {
		m.none()
	} else {
		m.head(t("name"), t("role"), t("console"))
		for _, o := range p.Observers {
			m.row(e(o.Name), m.orDash(o.Role), m.console(o.Host, o.SSHClient))
		}
		m.line("")
	}
}

// inventory writes the domains of every site at one moment.
func (m mdDoc) inventory(inv Inventory) {
	e, t, l := mdEscape, m.t, m.l
	m.p("%s %s\n\n", t("inventory_at"), e(l.Date(inv.At)))
	if len(inv.Sites) == 0 {
		m.none()
	}
	for _, s := range inv.Sites {
		reach := "✓ " + t("reachable")
		if !s.Reachable {
			reach = "✗ **" + t("unreachable") + "**"
		}
		role := ""
		if s.Role != "" {
			role = " (" + e(l.Word("role", s.Role)) + ")"
		}
		m.p("### %s%s — %s\n\n", e(s.Site), role, reach)
		if s.Error != "" {
			m.p("%s\n\n", e(s.Error))
		}
		if len(s.Domains) > 0 {
			m.head(t("domain"), t("host"), t("state"), t("detail"))
			for _, dm := range s.Domains {
				m.row(mdCode(dm.Name), mdCode(dm.Host), e(l.Word("state", dm.State)), m.orDash(dm.Detail))
			}
			m.line("")
		}
	}
}

// readiness is section 3.
func (m mdDoc) readiness() {
	e, t := mdEscape, m.t
	m.p("## 3. %s\n\n", t("sec.readiness"))
	m.inventory(m.d.Readiness)
	m.p("### %s\n\n", t("accepted"))
	if len(m.d.Accepted) == 0 {
		m.none()
		return
	}
	m.head(t("severity"), t("check"), t("message"), t("by"), t("when"), t("reason"))
	for _, a := range m.d.Accepted {
		m.row(m.glyph(a.Severity)+" "+e(m.l.Word("severity", a.Severity)), mdCode(a.Check), e(a.Message), e(a.By), m.when(a.At), e(a.Reason))
	}
	m.line("")
}

// timeline is section 4.
func (m mdDoc) timeline() {
	e, t, l := mdEscape, m.t, m.l
	m.p("## 4. %s\n\n", t("sec.timeline"))
	m.block(strings.Join(TimelineText(m.d, 100), "\n"))
	m.head("#", t("step"), t("site")+" / "+t("host"), t("targets"), t("action"), t("start"), t("end"), t("duration"), t("result"), t("retries"), t("forced"))
	for _, s := range m.d.Timeline {
		step := mdCode(s.ID)
		if s.Title != "" {
			step += " — " + e(s.Title)
		}
		if s.RTOStart {
			step += " **▶ " + t("chart.rto_start") + "**"
		}
		if s.RTOStop {
			step += " **■ " + t("chart.rto_stop") + "**"
		}
		where := m.orDash(s.Site)
		if s.Host != "" {
			where += " / " + mdCode(s.Host)
		}
		dur := "—"
		if !s.Started.IsZero() {
			dur = e(l.Duration(s.Duration))
		}
		res := m.glyph(s.Result) + " " + e(l.Word("result", s.Result))
		if s.Reason != "" {
			res += " — " + e(s.Reason)
		}
		m.row(strconv.Itoa(s.Order), step, where, m.join(s.Targets), mdCode(s.Action), m.when(s.Started), m.when(s.Ended), dur, res, strconv.Itoa(s.Retries), m.join(s.ForcedShutdowns))
	}
	m.line("")
}

// gates is section 5.
func (m mdDoc) gates() {
	e, t, l := mdEscape, m.t, m.l
	m.p("## 5. %s\n\n", t("sec.gates"))
	if len(m.d.Gates) == 0 {
		m.none()
	}
	decision := m.f["decision"].(func(Decision) string)
	for _, g := range m.d.Gates {
		m.p("### %s — %s\n\n", mdCode(g.Step), e(l.Word("gate", g.Kind)))
		m.kv(t("prompt"), e(g.Prompt), t("opened"), m.when(g.Opened), t("wait"), e(l.Duration(g.Wait)), t("required"), strconv.Itoa(g.Required))
		m.head(t("by"), t("when"), t("decision"), t("typed"), t("signed"))
		for _, dc := range g.Decisions {
			mark := "✓ "
			if !dc.Approved {
				mark = "✗ "
			}
			typed := "—"
			if dc.Typed != "" {
				typed = mdCode(dc.Typed)
			}
			m.row(e(dc.By), m.when(dc.At), mark+e(decision(dc)), typed, e(l.YesNo(dc.Signed)))
		}
		m.line("")
		if len(g.Checklist) > 0 {
			m.head(t("checklist"), t("by"), t("when"))
			for _, tk := range g.Checklist {
				m.row("☑ "+e(tk.Item), e(tk.By), m.when(tk.At))
			}
			m.line("")
		}
	}
}

// objectives is section 6.
func (m mdDoc) objectives() {
	e, t, l := mdEscape, m.t, m.l
	rto, rpo := m.d.Objectives.RTO, m.d.Objectives.RPO
	m.p("## 6. %s\n\n", t("sec.objectives"))
	m.head(t("objective"), t("target"), t("measured"), t("share"), t("verdict"), t("span"))
	for _, o := range []struct {
		name string
		ms   Measure
	}{{t("rto"), rto}, {t("rpo"), rpo}} {
		got, share := "—", "—"
		if o.ms.Measured {
			got, share = e(l.Duration(o.ms.Achieved)), e(l.Percent(o.ms.Achieved, o.ms.Target))
		}
		span := m.when(o.ms.From)
		if o.ms.FromStep != "" {
			span += " (" + mdCode(o.ms.FromStep) + ")"
		}
		span += " → " + m.when(o.ms.To)
		if o.ms.ToStep != "" {
			span += " (" + mdCode(o.ms.ToStep) + ")"
		}
		m.row(o.name, e(l.Duration(o.ms.Target)), got, share, m.verdict(o.ms), span)
	}
	m.line("")
	if rto.Basis != "" {
		m.p("**%s** — %s\n\n", t("rto"), e(rto.Basis))
	}
	if rpo.Basis != "" {
		m.p("**%s** — %s\n\n", t("rpo"), e(rpo.Basis))
	}
}

// validation is section 7.
func (m mdDoc) validation() {
	e, t := mdEscape, m.t
	m.p("## 7. %s\n\n", t("sec.validation"))
	if len(m.d.Validation) == 0 {
		m.none()
	}
	for _, c := range m.d.Validation {
		ok := "✓ " + t("ok")
		if !c.OK {
			ok = "✗ **" + t("failed") + "**"
		}
		m.p("### %s %s — %s\n\n", m.glyph(m.f["okword"].(func(bool) string)(c.OK)), mdCode(c.Step), e(c.Name))
		where := m.orDash(c.Site)
		if c.Host != "" {
			where += " / " + mdCode(c.Host)
		}
		exit := "—"
		if c.ExitCode >= 0 {
			exit = strconv.Itoa(c.ExitCode)
		}
		pairs := []string{t("when"), m.when(c.At), t("site") + " / " + t("host"), where}
		if c.Command != "" {
			pairs = append(pairs, t("command"), mdCode(c.Command))
		}
		m.kv(append(pairs, t("exit_code"), exit, t("result"), ok)...)
		if c.Output != "" {
			m.block(c.Output)
		}
	}
}

// deviations is section 8.
func (m mdDoc) deviations() {
	e, t := mdEscape, m.t
	m.p("## 8. %s\n\n", t("sec.deviations"))
	if len(m.d.Deviations) == 0 {
		m.none()
		return
	}
	m.head(t("kind"), t("step"), t("when"), t("by"), t("detail"))
	for _, dv := range m.d.Deviations {
		m.row(e(m.l.Word("deviation", dv.Kind)), mdCode(dv.Step), m.when(dv.At), m.orDash(dv.By), e(dv.Detail))
	}
	m.line("")
}

// final is section 9.
func (m mdDoc) final() {
	m.p("## 9. %s\n\n", m.t("sec.final"))
	m.inventory(m.d.FinalState)
}

// findings is section 10.
func (m mdDoc) findings() {
	e, t := mdEscape, m.t
	m.p("## 10. %s\n\n", t("sec.findings"))
	if len(m.d.Findings) == 0 {
		m.none()
		return
	}
	m.head("#", t("finding"), t("corrective_action"), t("owner"), t("due"), t("recorded"))
	for _, fd := range m.d.Findings {
		text := e(fd.Text)
		if fd.Step != "" {
			text += " (" + t("step") + " " + mdCode(fd.Step) + ")"
		}
		rec := e(fd.By) + ", " + e(m.l.Date(fd.At))
		if fd.AfterRun {
			rec += " (" + t("after_run") + ")"
		}
		m.row(e(fd.ID), text, m.orDash(fd.Action), m.orDash(fd.Owner), e(m.l.Day(fd.Due)), rec)
	}
	m.line("")
}

// restores is section 11.
func (m mdDoc) restores() {
	e, t, l := mdEscape, m.t, m.l
	m.p("## 11. %s\n\n", t("sec.restores"))
	if len(m.d.Restores) == 0 {
		m.none()
		return
	}
	m.p("%s\n\n", t("restores.note"))
	for _, r := range m.d.Restores {
		sum := mdCode(r.SHA256) + " — ✓ " + t("checksum_ok")
		if !r.Verified {
			sum = mdCode(r.SHA256) + " — ✗ **" + t("checksum_not_verified") + "**"
		}
		if r.ChecksumStep != "" {
			sum += " (" + t("checksum_by") + " " + mdCode(r.ChecksumStep) + ")"
		}
		age := e(l.Duration(r.Age))
		if r.TakenAt.IsZero() {
			age = "—"
		}
		what, which := t("step"), mdCode(r.Step)
		if r.Domain != "" {
			what, which = t("step")+" / "+t("domain"), mdCode(r.Step)+" / "+mdCode(r.Domain)
		}
		m.kv(what, which, t("result"), m.glyph(r.Result)+" "+e(l.Word("result", r.Result)), t("backup_id"), mdCode(r.BackupID),
			t("taken_at"), e(l.Date(r.TakenAt)), t("age"), age, "SHA-256", sum,
			t("key_used_by"), e(r.KeyUsedBy)+", "+e(l.Date(r.KeyUsedAt)), t("key_source"), m.orDash(r.KeySource), t("key_id"), mdCode(r.KeyID))
	}
}

// integrity is section 12: the chain, the signatures, and how to check both.
func (m mdDoc) integrity() {
	e, t, l, in := mdEscape, m.t, m.l, m.d.Integrity
	m.p("## 12. %s\n\n", t("sec.integrity"))
	res := "✓ " + t("chain.verified")
	if !in.Verified {
		res = "✗ **" + t("chain.not_verified") + "**"
	}
	if in.VerifyDetail != "" {
		res += " — " + e(in.VerifyDetail)
	}
	res += " (" + e(l.Date(in.VerifiedAt)) + ")"
	m.kv(t("events"), e(l.Number(int64(in.Events)))+" ("+t("seq")+" "+strconv.FormatInt(in.FirstSeq, 10)+"–"+strconv.FormatInt(in.LastSeq, 10)+")",
		t("chain_head"), mdCode(in.ChainHead), t("verify_result"), res)
	m.p("### %s\n\n", t("signatures"))
	if len(in.Signatures) == 0 {
		m.p("_%s_\n\n", t("no_signatures"))
	} else {
		m.head(t("signed_what"), t("signer"), t("key"), t("when"), t("valid"))
		for _, s := range in.Signatures {
			m.row(e(s.What), e(s.Signer)+" "+mdCode(s.Principal), mdCode(s.Key), m.when(s.At), m.yes(s.Valid, "yes"))
		}
		m.line("")
	}
	m.p("### %s\n\n%s\n\n", t("reverify.title"), t("reverify.repli"))
	m.block(m.f["repliVerify"].(func() string)())
	for _, s := range in.Signatures {
		m.p("%s\n\n", e(l.Tf("reverify.sshkeygen", s.What)))
		m.block(sshKeygenRecipe(s))
		m.p("%s %s\n\n", t("reverify.expect"), mdCode(fmt.Sprintf("Good %q signature for %s", s.Namespace, s.Principal)))
	}
}

func (m mdDoc) footer() {
	m.p("---\n\n_%s %s — repli %s_\n", m.t("generated"), mdEscape(m.l.Date(m.d.GeneratedAt)), mdEscape(m.d.Identification.RepliVersion))
}
