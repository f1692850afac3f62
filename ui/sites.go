package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
)

// sitesView is the screen's part of the sites: the last status each sent,
// when each last answered, the domain names sorted once per status (not per
// frame), and the scroll offset. The run's own facts come from the
// projection.
type sitesView struct {
	names    []string
	status   map[string]engine.SiteStatus
	answered map[string]time.Time
	running  map[string]int
	sorted   map[string][]string
	offset   int
	// order caches the domains shown per site, targets of the focused step
	// first; rebuilt when the focus or a status changes.
	order    map[string][]string
	orderKey string
	// targets caches the focused step's domains per site, by focus and
	// the last action seen.
	targets    map[string]map[string]bool
	targetsKey string
	version    int
}

func newSitesView(rb *runbooks.Runbook) *sitesView {
	return &sitesView{
		names: rb.SiteNames(), status: map[string]engine.SiteStatus{}, answered: map[string]time.Time{},
		sorted: map[string][]string{}, order: map[string][]string{}, running: map[string]int{},
	}
}

func (v *sitesView) update(st engine.SiteStatus) {
	v.status[st.Site] = st
	if st.Reachable {
		v.answered[st.Site] = st.At
		n := 0
		for _, s := range st.Domains {
			if s == engine.StateRunning || s == engine.StateBlocked {
				n++
			}
		}
		v.running[st.Site] = n
		names := make([]string, 0, len(st.Domains))
		for d := range st.Domains {
			names = append(names, d)
		}
		slices.Sort(names)
		v.sorted[st.Site] = names
	}
	if !slices.Contains(v.names, st.Site) {
		v.names = append(v.names, st.Site)
	}
	v.version++
}

func (v *sitesView) scroll(by int) { v.offset = max(0, v.offset+by) }

// actionIndex groups the projection's actions by step and by domain. It is
// built incrementally from prog.Actions (appended to, never reordered): an
// index for drawing, not a second fold; results are read from the
// projection's own records.
type actionIndex struct {
	seen     int
	byStep   map[string][]*engine.ActionProgress
	byDomain map[string]*engine.ActionProgress
}

func (x *actionIndex) refresh(p *engine.Progress) {
	if x.byStep == nil || x.seen > len(p.Actions) {
		*x = actionIndex{byStep: map[string][]*engine.ActionProgress{}, byDomain: map[string]*engine.ActionProgress{}}
	}
	for _, a := range p.Actions[x.seen:] {
		in := a.Intent
		x.byStep[in.Step] = append(x.byStep[in.Step], a)
		if in.Site != "local" {
			x.byDomain[in.Site+"/"+in.Domain] = a
		}
	}
	x.seen = len(p.Actions)
}

// stepCount is a step's progress over its domains: how many are done,
// failed, in flight, of how many.
type stepCount struct {
	verb                         string
	done, failed, working, total int
	// group is the start group being worked, when the step has several.
	group string
}

func (c stepCount) String() string {
	s := fmt.Sprintf("%d/%d %s", c.done, c.total, pastTense(c.verb))
	if c.working > 0 {
		s += fmt.Sprintf(" · %d in progress", c.working)
	}
	if c.failed > 0 {
		s += fmt.Sprintf(" · %d failed", c.failed)
	}
	if c.group != "" {
		s += " · " + c.group
	}
	return s
}

// groupOf says which of a start step's groups holds a domain: "group 2/3
// (app-01, app-02)"; "" for a step without groups.
func groupOf(step *runbooks.Step, dom string) string {
	if step.Start == nil || len(step.Start.Groups) < 2 || !slices.ContainsFunc(step.Start.Groups, func(g []string) bool { return len(g) > 1 }) {
		return "" // one group, or one domain at a time: the count says it all
	}
	for i, g := range step.Start.Groups {
		if slices.Contains(g, dom) {
			names := make([]string, len(g))
			for j, d := range g {
				names[j] = safetext.Line(d)
			}
			return fmt.Sprintf("group %d/%d (%s)", i+1, len(step.Start.Groups), strings.Join(names, ", "))
		}
	}
	return ""
}

// pastTense says what a done action did, for the progress count.
func pastTense(verb string) string {
	switch verb {
	case "start":
		return "started"
	case "shutdown":
		return "shut down"
	case "destroy":
		return "powered off"
	case "suspend":
		return "suspended"
	case "resume":
		return "resumed"
	case "define":
		return "defined"
	case "undefine":
		return "undefined"
	case "":
		return "done"
	}
	return verb + " done"
}

// countStep counts a step's actions on domains, each domain by its last
// action: ActionOutcome over ActionIntent, as the projection recorded them.
func (m *RunModel) countStep(step *runbooks.Step) stepCount {
	m.acts.refresh(m.prog)
	var c stepCount
	last := map[string]*engine.ActionProgress{}
	for _, a := range m.acts.byStep[step.ID] {
		if a.Intent.Site == "local" {
			continue
		}
		last[a.Intent.Site+"/"+a.Intent.Domain] = a
		c.verb = a.Intent.Verb
		c.group = groupOf(step, a.Intent.Domain)
	}
	for _, a := range last {
		switch a.Result {
		case engine.ActionOK, engine.ActionFoundDone:
			c.done++
		case engine.ActionFailed, engine.ActionFoundNotDone:
			c.failed++
		default:
			c.working++
		}
	}
	for _, t := range step.Targets() {
		if !t.Dynamic() {
			c.total += len(t.Domains)
		}
	}
	c.total = max(c.total, len(last))
	if c.verb == "" {
		c.verb = string(step.Kind) // no action yet: the kind's verb
	}
	return c
}

// targetsOf are the domains the focused step acts on, per site.
func (m *RunModel) targetsOf() map[string]map[string]bool {
	k := fmt.Sprintf("%d/%d", m.focus, m.prog.ActionID)
	if m.sites.targetsKey == k {
		return m.sites.targets
	}
	out := map[string]map[string]bool{}
	m.sites.targets, m.sites.targetsKey = out, k
	if len(m.rb.Steps) == 0 {
		return out
	}
	step := m.rb.Steps[m.focus]
	for _, t := range step.Targets() {
		if out[t.Site] == nil {
			out[t.Site] = map[string]bool{}
		}
		for _, d := range t.Domains {
			out[t.Site][d] = true
		}
	}
	m.acts.refresh(m.prog)
	for _, a := range m.acts.byStep[step.ID] {
		if a.Intent.Site != "local" {
			if out[a.Intent.Site] == nil {
				out[a.Intent.Site] = map[string]bool{}
			}
			out[a.Intent.Site][a.Intent.Domain] = true
		}
	}
	return out
}

// domainsOf lists a site's domains for the panel: the focused step's
// targets first, then the others by name. Cached until focus or status
// changes, so drawing a frame does not sort 5,000 names.
func (m *RunModel) domainsOf(site string, targets map[string]bool) []string {
	v := m.sites
	k := fmt.Sprintf("%d/%d/%d", m.focus, v.version, m.prog.ActionID)
	if v.orderKey != k {
		v.order, v.orderKey = map[string][]string{}, k
	}
	if o, ok := v.order[site]; ok {
		return o
	}
	first := make([]string, 0, len(targets))
	for d := range targets {
		first = append(first, d)
	}
	slices.Sort(first)
	out := first
	for _, d := range v.sorted[site] {
		if !targets[d] {
			out = append(out, d)
		}
	}
	v.order[site] = out
	return out
}

// siteHeader is a site's health in one line: whether it answers and since
// when, and how many of its domains run.
func (m *RunModel) siteHeader(site string) string {
	v := m.sites
	name := safetext.Line(site)
	st, ok := v.status[site]
	switch {
	case !ok && m.cfg.Sites == nil:
		return m.st.Bold.Render(name) + m.st.Dim.Render(" · no live view here; states from the trail")
	case !ok:
		return m.st.Bold.Render(name) + m.st.Dim.Render(" · … waiting for its first answer")
	case !st.Reachable:
		s := "✗ " + name + " NOT ANSWERING"
		if a, ok := v.answered[site]; ok {
			s += fmt.Sprintf(" · last answered %s ago", FormatDuration(m.now.Sub(a)))
		} else {
			s += " · never answered"
		}
		return m.st.Fail.Render(s)
	}
	running := v.running[site]
	age := FormatDuration(m.now.Sub(v.answered[site]))
	return m.st.Done.Render("✓ "+name+" up") + fmt.Sprintf(" · %d/%d running", running, len(st.Domains)) + m.st.Dim.Render(" · answered "+age+" ago")
}

// domainCell is one domain: › when the step acts on it, its live state (or
// what the trail says of it), as glyph and word.
func (m *RunModel) domainCell(site, dom string, target bool, w int) string {
	mark := "  "
	if target {
		mark = "› "
	}
	state := "?"
	style := m.st.Dim
	if st, ok := m.sites.status[site]; ok && st.Reachable {
		s, ok := st.Domains[dom]
		switch {
		case !ok:
			state, style = "✗ missing", m.st.Fail
		case s == engine.StateRunning || s == engine.StateBlocked:
			state, style = "▶ "+string(s), m.st.Running
		case s == engine.StateShutoff:
			state, style = "■ shutoff", m.st.Pending
		case s == engine.StateCrashed:
			state, style = "✗ crashed", m.st.Fail
		default:
			state, style = "◐ "+string(s), m.st.Waiting
		}
	}
	if a := m.acts.byDomain[site+"/"+dom]; a != nil {
		switch {
		case a.Result == engine.ActionInDoubt:
			state, style = "… "+a.Intent.Verb, m.st.Waiting
		case a.Result == engine.ActionFailed && target:
			state, style = "✗ "+a.Intent.Verb+" failed", m.st.Fail
		case state == "?" && (a.Result == engine.ActionOK || a.Result == engine.ActionFoundDone):
			state, style = "✓ "+pastTense(a.Intent.Verb), m.st.Done
		}
	}
	if state == "?" {
		state = "· not seen"
	}
	name := safetext.Line(dom)
	room := w - 2 - 1 - ansi.StringWidth(state)
	if room < 4 {
		room = 4
	}
	name = ansi.Truncate(name, room, "…")
	cell := mark + name + " " + style.Render(state)
	if pad := w - ansi.StringWidth(cell); pad > 0 {
		cell += strings.Repeat(" ", pad)
	}
	return cell
}

// siteLines renders one site in h lines of width w: its header, then its
// domains packed in cells, scrolled by the panel's offset.
func (m *RunModel) siteLines(site string, targets map[string]bool, w, h int) []string {
	if h <= 0 {
		return nil
	}
	doms := m.domainsOf(site, targets)
	if len(doms) == 0 && len(targets) > 0 {
		for d := range targets {
			doms = append(doms, d)
		}
		slices.Sort(doms)
	}
	cellW := 26
	perRow := max(1, w/cellW)
	cellW = w / perRow
	rows := (len(doms) + perRow - 1) / perRow
	first := min(m.sites.offset, max(0, rows-(h-1)))
	shown := min(rows-first, h-1)
	head := m.siteHeader(site)
	if hidden := rows - shown; hidden > 0 {
		// Said in the header, so that even one row of room shows domains.
		head += m.st.Dim.Render(fmt.Sprintf(" · rows %d-%d/%d", first+1, first+shown, rows))
	}
	out := []string{ansi.Truncate(head, w, "…")}
	for r := first; r < first+shown; r++ {
		var b strings.Builder
		for c := 0; c < perRow; c++ {
			i := r*perRow + c
			if i >= len(doms) {
				break
			}
			b.WriteString(m.domainCell(site, doms[i], targets[doms[i]], cellW))
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}

// sitesLines is the sites panel: side by side when wide, stacked otherwise.
func (m *RunModel) sitesLines(h int) []string {
	if h <= 0 || len(m.sites.names) == 0 {
		return nil
	}
	all := m.targetsOf()
	names := m.sites.names
	if len(names) == 2 && m.width >= 100 {
		colW := (m.width - 3) / 2
		left := m.siteLines(names[0], all[names[0]], colW, h)
		right := m.siteLines(names[1], all[names[1]], colW, h)
		out := make([]string, 0, h)
		for i := 0; i < max(len(left), len(right)); i++ {
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			if pad := colW - ansi.StringWidth(l); pad > 0 {
				l += strings.Repeat(" ", pad)
			}
			out = append(out, l+m.st.Rule.Render(" │ ")+r)
		}
		return out
	}
	need := make([]int, len(names))
	total := 0
	for i, n := range names {
		need[i] = m.siteWanted(n, all[n], m.width)
		total += need[i]
	}
	var out []string
	for i, n := range names {
		hh := need[i]
		if total > h {
			hh = max(2, h*need[i]/total)
		}
		if i == len(names)-1 {
			hh = h - len(out)
		}
		out = append(out, m.siteLines(n, all[n], m.width, min(hh, h-len(out)))...)
	}
	return out
}

// siteWanted is how many lines a site would use at width w, unbounded.
func (m *RunModel) siteWanted(site string, targets map[string]bool, w int) int {
	perRow := max(1, w/26)
	doms := len(m.domainsOf(site, targets))
	if doms == 0 {
		doms = len(targets)
	}
	return 1 + (doms+perRow-1)/perRow
}

// sitesWanted is how many lines the panel would use, unbounded.
func (m *RunModel) sitesWanted() int {
	all := m.targetsOf()
	if len(m.sites.names) == 2 && m.width >= 100 {
		w := (m.width - 3) / 2
		return max(m.siteWanted(m.sites.names[0], all[m.sites.names[0]], w), m.siteWanted(m.sites.names[1], all[m.sites.names[1]], w))
	}
	need := 0
	for _, n := range m.sites.names {
		need += m.siteWanted(n, all[n], m.width)
	}
	return need
}
