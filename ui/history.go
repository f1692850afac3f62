package ui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
)

// HistoryRun is one past run as the history browser lists it.
type HistoryRun struct {
	ID       int64
	Runbook  string
	Title    string
	Mode     string
	Operator string
	Host     string
	// Outcome is succeeded, failed, aborted, interrupted or running.
	Outcome   string
	Started   time.Time
	Duration  time.Duration
	RTO       time.Duration // achieved; 0 when not measured
	RTOTarget time.Duration
	Simulated bool
}

// HistorySource reads what the browser opens, called from a tea.Cmd (off
// the UI goroutine): a run's view (identification, timeline, gates,
// deviations, RTO/RPO, findings, integrity, as repli show writes it) and
// repli compare of two runs, as text for a width. The caller binds them to
// its context and audit trail.
type HistorySource struct {
	RunView func(id int64, width int) (string, error)
	Compare func(a, b int64, width int) (string, error)
}

// historyScreen is what the browser shows.
type historyScreen int

const (
	historyList historyScreen = iota
	historyFilter
	historyView
	historyHelp
)

// historySort is an order of the list; s cycles through them.
type historySort int

const (
	sortNewest historySort = iota
	sortOldest
	sortRunbook
	sortOutcome
	sortLongest
	sortCount
)

var sortNames = [sortCount]string{"newest first", "oldest first", "by runbook", "by outcome", "longest first"}

// HistoryModel browses past runs: the real ones, then those on simulated
// sites apart; filter (/), sort (s), open one (enter) to read its view with
// the timeline, mark one (space) and compare it with another (c).
type HistoryModel struct {
	db      string
	runs    []HistoryRun
	src     HistorySource
	shown   []int // indexes into runs: real runs, then simulated
	nReal   int   // how many of shown are real runs
	cursor  int
	marked  int64 // run marked for compare, 0 when none
	order   historySort
	hideSim bool

	screen, back historyScreen
	filter       textinput.Model

	// The open view: a run's, or a comparison.
	title   string
	lines   []string
	offset  int
	loading bool
	open    func(width int) tea.Cmd // reloads the view at another width
	// seq numbers the loads: a view read for a run since closed, or at a
	// width since changed, arrives late and is dropped.
	seq int

	st     Styles
	keys   KeyMap
	help   help.Model
	width  int
	height int
	errTxt string
}

// historyLoaded is the text of a view, read off the UI goroutine.
type historyLoaded struct {
	seq   int
	title string
	text  string
	err   error
}

// NewHistoryModel builds the browser over runs, newest first as given.
func NewHistoryModel(db string, runs []HistoryRun, src HistorySource, r *lipgloss.Renderer) *HistoryModel {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	st := NewStyles(r)
	m := &HistoryModel{db: db, runs: runs, src: src, st: st, keys: DefaultKeys, help: newHelp(st), width: 80, height: 24}
	m.filter = textinput.New()
	m.filter.Prompt = "/"
	m.filter.Placeholder = "erp mode:test outcome:failed since:2026-01-01"
	m.filter.CharLimit = 80
	m.refilter()
	return m
}

// bindings are the keys of a screen: its footer, its help, and what its
// handler matches.
func (m *HistoryModel) bindings(s historyScreen) []key.Binding {
	km := m.keys
	switch s {
	case historyFilter:
		return []key.Binding{withHelp(km.Submit, "enter", "keep filter"), withHelp(km.Cancel, "esc", "clear"), textHelp}
	case historyView:
		return []key.Binding{withHelp(km.Down, "↓/j", "scroll"), withHelp(km.PageDown, "pgdn", "page"), km.Back, km.Quit, km.Help}
	case historyHelp:
		return []key.Binding{km.CloseHelp, km.Interrupt}
	}
	// t is on the status line and the help screen: 80 columns hold no more.
	return []key.Binding{km.Open, km.Filter, km.Sort, km.Mark, km.Compare, km.Quit, km.Help}
}

// helpLines are the help screen, generated from the same bindings.
func (m *HistoryModel) helpLines() []string {
	km := m.keys
	row := func(name string, bs ...key.Binding) string {
		parts := make([]string, 0, len(bs))
		for _, b := range bs {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
		return fmt.Sprintf("  %-9s %s", name, strings.Join(parts, " · "))
	}
	return []string{
		row("runs", km.Up, km.Down, withHelp(km.Open, "enter", "open the run"), km.Quit),
		row("", withHelp(km.Sort, "s", "sort: "+strings.Join(sortNames[:], ", "))),
		row("", withHelp(km.Mark, "m/space", "mark a run"), withHelp(km.Compare, "c", "compare it with the run under the cursor")),
		row("", withHelp(km.Simulated, "t", "show or hide the runs on simulated sites")),
		row("filter", withHelp(km.Filter, "/", "words, and runbook: mode: outcome: since:YYYY-MM-DD or date:YYYY-MM-DD")),
		row("a run", km.Up, km.Down, withHelp(km.PageUp, "pgup", "page up"), withHelp(km.PageDown, "pgdn", "page down"), km.Back),
	}
}

// Init implements tea.Model.
func (m *HistoryModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *HistoryModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.screen == historyView && m.open != nil {
			m.seq++
			return m, m.open(m.width)
		}
	case historyLoaded:
		if msg.seq != m.seq || m.screen != historyView {
			return m, nil
		}
		m.loading = false
		if msg.err != nil {
			m.screen, m.errTxt = historyList, msg.err.Error()
			return m, nil
		}
		m.title = msg.title
		m.lines = strings.Split(strings.TrimRight(msg.text, "\n"), "\n")
		m.offset = min(m.offset, m.maxOffset())
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *HistoryModel) key(k tea.KeyMsg) tea.Cmd {
	m.errTxt = ""
	if matches(k, m.keys.Interrupt) {
		return tea.Quit
	}
	switch m.screen {
	case historyHelp:
		if matches(k, m.keys.CloseHelp) {
			m.screen = m.back
		}
		return nil
	case historyFilter:
		switch {
		case matches(k, m.keys.Cancel):
			m.filter.SetValue("")
			fallthrough
		case matches(k, m.keys.Submit):
			m.filter.Blur()
			m.screen = historyList
			m.refilter()
			return nil
		}
		cmd := typeInto(&m.filter, k)
		m.refilter()
		return cmd
	case historyView:
		return m.viewKey(k)
	}
	return m.listKey(k)
}

func (m *HistoryModel) listKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case matches(k, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case matches(k, m.keys.Down):
		m.cursor = max(0, min(len(m.shown)-1, m.cursor+1))
	case matches(k, m.keys.Filter):
		m.screen = historyFilter
		return m.filter.Focus()
	case matches(k, m.keys.Sort):
		m.order = (m.order + 1) % sortCount
		m.refilter()
	case matches(k, m.keys.Simulated):
		m.hideSim = !m.hideSim
		m.refilter()
	case matches(k, m.keys.Mark):
		if r := m.current(); r != nil {
			if m.marked == r.ID {
				m.marked = 0
			} else {
				m.marked = r.ID
			}
		}
	case matches(k, m.keys.Compare):
		r := m.current()
		switch {
		case r == nil:
		case m.marked == 0 || m.marked == r.ID:
			m.errTxt = "mark a run with space first, then move to the other run and press c"
		default:
			// A is the earlier run, B the later: the deltas read as this
			// year against last year's, whichever was marked.
			a, b := m.marked, r.ID
			if ra := m.byID(a); ra != nil && ra.Started.After(r.Started) {
				a, b = b, a
			}
			m.openView(func(w int) tea.Cmd { return m.loadCompare(a, b, w) })
			return m.open(m.width)
		}
	case matches(k, m.keys.Open):
		if r := m.current(); r != nil {
			id := r.ID
			m.openView(func(w int) tea.Cmd { return m.loadRun(id, w) })
			return m.open(m.width)
		}
	case matches(k, m.keys.Back):
		m.filter.SetValue("")
		m.refilter()
	case matches(k, m.keys.Help):
		m.back, m.screen = historyList, historyHelp
	case matches(k, m.keys.Quit):
		return tea.Quit
	}
	return nil
}

func (m *HistoryModel) viewKey(k tea.KeyMsg) tea.Cmd {
	page := max(1, m.bodyHeight()-1)
	switch {
	case matches(k, m.keys.Up):
		m.offset--
	case matches(k, m.keys.Down):
		m.offset++
	case matches(k, m.keys.PageUp):
		m.offset -= page
	case matches(k, m.keys.PageDown):
		m.offset += page
	case k.String() == "home" || k.String() == "g":
		m.offset = 0
	case k.String() == "end" || k.String() == "G":
		m.offset = m.maxOffset()
	case matches(k, m.keys.Back):
		m.screen, m.open, m.lines = historyList, nil, nil
	case matches(k, m.keys.Help):
		m.back, m.screen = historyView, historyHelp
	case matches(k, m.keys.Quit):
		return tea.Quit
	}
	m.offset = max(0, min(m.offset, m.maxOffset()))
	return nil
}

func (m *HistoryModel) openView(open func(int) tea.Cmd) {
	m.screen, m.open, m.offset, m.loading, m.lines, m.title = historyView, open, 0, true, nil, ""
	m.seq++
}

func (m *HistoryModel) loadRun(id int64, width int) tea.Cmd {
	src, seq := m.src.RunView, m.seq
	return func() tea.Msg {
		if src == nil {
			return historyLoaded{seq: seq, err: fmt.Errorf("run %d cannot be opened here: use repli show %d", id, id)}
		}
		text, err := src(id, width)
		return historyLoaded{seq: seq, title: fmt.Sprintf("run %d", id), text: text, err: err}
	}
}

func (m *HistoryModel) loadCompare(a, b int64, width int) tea.Cmd {
	src, seq := m.src.Compare, m.seq
	return func() tea.Msg {
		if src == nil {
			return historyLoaded{seq: seq, err: fmt.Errorf("runs cannot be compared here: use repli compare %d %d", a, b)}
		}
		text, err := src(a, b, width)
		return historyLoaded{seq: seq, title: fmt.Sprintf("run %d beside run %d", a, b), text: text, err: err}
	}
}

func (m *HistoryModel) byID(id int64) *HistoryRun {
	for i := range m.runs {
		if m.runs[i].ID == id {
			return &m.runs[i]
		}
	}
	return nil
}

func (m *HistoryModel) current() *HistoryRun {
	if m.cursor < 0 || m.cursor >= len(m.shown) {
		return nil
	}
	return &m.runs[m.shown[m.cursor]]
}

// refilter applies the filter, the order and the simulated toggle: real
// runs first, then the simulated ones. The cursor stays on its run.
func (m *HistoryModel) refilter() {
	var keep int64
	if r := m.current(); r != nil {
		keep = r.ID
	}
	f := parseHistoryFilter(m.filter.Value())
	var real, sim []int
	for i, r := range m.runs {
		if !f.keep(r) {
			continue
		}
		if r.Simulated {
			if !m.hideSim {
				sim = append(sim, i)
			}
		} else {
			real = append(real, i)
		}
	}
	m.sortRuns(real)
	m.sortRuns(sim)
	m.shown, m.nReal = append(real, sim...), len(real)
	m.cursor = 0
	for i, j := range m.shown {
		if m.runs[j].ID == keep {
			m.cursor = i
		}
	}
}

func (m *HistoryModel) sortRuns(idx []int) {
	less := func(a, b HistoryRun) bool {
		switch m.order {
		case sortOldest:
			return a.Started.Before(b.Started)
		case sortRunbook:
			if a.Runbook != b.Runbook {
				return a.Runbook < b.Runbook
			}
		case sortOutcome:
			if a.Outcome != b.Outcome {
				return a.Outcome < b.Outcome
			}
		case sortLongest:
			if a.Duration != b.Duration {
				return a.Duration > b.Duration
			}
		}
		return a.Started.After(b.Started) || (a.Started.Equal(b.Started) && a.ID > b.ID)
	}
	sort.SliceStable(idx, func(i, j int) bool { return less(m.runs[idx[i]], m.runs[idx[j]]) })
}

// historyQuery is the / filter: words that must all appear in a run's
// line, and field:value terms (runbook:, mode:, outcome:, since:, date:).
type historyQuery struct {
	words                  []string
	runbook, mode, outcome string
	since, date            string
}

func parseHistoryFilter(q string) historyQuery {
	var f historyQuery
	for _, w := range strings.Fields(strings.ToLower(q)) {
		k, v, ok := strings.Cut(w, ":")
		switch {
		case ok && k == "runbook":
			f.runbook = v
		case ok && k == "mode":
			f.mode = v
		case ok && k == "outcome":
			f.outcome = v
		case ok && k == "since":
			f.since = v
		case ok && k == "date":
			f.date = v
		default:
			f.words = append(f.words, w)
		}
	}
	return f
}

func (f historyQuery) keep(r HistoryRun) bool {
	day := r.Started.Local().Format("2006-01-02")
	switch {
	case f.runbook != "" && !strings.Contains(strings.ToLower(r.Runbook), f.runbook):
		return false
	case f.mode != "" && strings.ToLower(r.Mode) != f.mode:
		return false
	case f.outcome != "" && !strings.HasPrefix(r.Outcome, f.outcome):
		return false
	case f.since != "" && day < f.since:
		return false
	case f.date != "" && !strings.HasPrefix(day, f.date):
		return false
	}
	sim := ""
	if r.Simulated {
		sim = "simulated"
	}
	line := strings.ToLower(strings.Join([]string{strconv.FormatInt(r.ID, 10), r.Runbook, r.Title, r.Mode, r.Operator, r.Host, r.Outcome, day, sim}, " "))
	for _, w := range f.words {
		if !strings.Contains(line, w) {
			return false
		}
	}
	return true
}

// View implements tea.Model: exactly the screen's height.
func (m *HistoryModel) View() string {
	w := m.width
	head := m.st.Header.Render("repli history")
	if m.screen == historyView || (m.screen == historyHelp && m.back == historyView) {
		head += " · " + m.title
	}
	trail := m.st.Dim.Render("trail: " + safetext.Line(m.db))
	if gap := w - lipgloss.Width(head) - lipgloss.Width(trail); gap > 1 {
		head += strings.Repeat(" ", gap) + trail
	}
	out := []string{head, m.st.Rule.Render(strings.Repeat("─", w))}
	switch {
	case m.screen == historyHelp:
		out = append(out, m.st.Bold.Render("Keys")+m.st.Dim.Render(" (? or esc closes this help)"))
		out = append(out, m.helpLines()...)
	case m.screen == historyView:
		out = append(out, m.viewLines()...)
	default:
		out = append(out, m.listLines(m.bodyHeight())...)
	}
	return m.frame(out)
}

// bodyHeight is the room between the header (2 lines) and the bottom (2).
func (m *HistoryModel) bodyHeight() int { return max(1, m.height-4) }

func (m *HistoryModel) maxOffset() int { return max(0, len(m.lines)-m.bodyHeight()) }

func (m *HistoryModel) viewLines() []string {
	if m.loading {
		return []string{m.st.Dim.Render("reading the run from the audit trail…")}
	}
	h := m.bodyHeight()
	end := min(len(m.lines), m.offset+h)
	out := make([]string, 0, h)
	for _, l := range m.lines[m.offset:end] {
		out = append(out, truncate(safetext.Line(l), m.width))
	}
	return out
}

// listLines are the runs that fit in h lines, scrolled to the cursor: a
// title line, the real runs, then the simulated ones under their heading.
func (m *HistoryModel) listLines(h int) []string {
	nSim := len(m.shown) - m.nReal
	real := plural(m.nReal, "run", "runs")
	if m.nReal == 0 {
		real = "no real runs"
	}
	status := fmt.Sprintf("%s · %s", real, sortNames[m.order])
	switch {
	case m.hideSim:
		status += " · simulated hidden (t shows)"
	case nSim > 0:
		status += fmt.Sprintf(" · %d simulated below (t hides)", nSim)
	}
	if m.marked != 0 {
		status += fmt.Sprintf(" · ◆ run %d marked: c compares", m.marked)
	}
	out := []string{m.st.Dim.Render(status)}
	if len(m.runs) == 0 {
		return append(out, m.st.Dim.Render("No runs in this audit trail yet."))
	}
	if len(m.shown) == 0 {
		return append(out, m.st.Dim.Render("Nothing matches the filter; esc clears it."))
	}
	// rows: one per run, with a heading before the real and the simulated.
	type row struct {
		text string
		run  int // index in shown, -1 for a heading
	}
	var rows []row
	hdr := fmt.Sprintf("   %4s %-16s %-*s %-8s %6s  %-13s %s", "RUN", "STARTED", m.nameWidth(), "RUNBOOK", "MODE", "TOOK", "OUTCOME", "RTO")
	for i, j := range m.shown {
		if i == 0 && m.nReal > 0 {
			rows = append(rows, row{m.st.Bold.Render(hdr), -1})
		}
		if i == m.nReal {
			rows = append(rows, row{m.st.Warn.Render("⚠ Simulated sites (sim://), not evidence of a real recovery"), -1})
		}
		rows = append(rows, row{m.runLine(m.runs[j], i == m.cursor), i})
	}
	room := max(1, h-1)
	cur := 0
	for i, r := range rows {
		if r.run == m.cursor {
			cur = i
		}
	}
	first := 0
	if cur >= room {
		first = cur - room + 1
	}
	for _, r := range rows[first:min(len(rows), first+room)] {
		out = append(out, r.text)
	}
	return out
}

// nameWidth is the runbook column's: what the screen leaves of it.
func (m *HistoryModel) nameWidth() int { return max(12, min(32, m.width-62)) }

func (m *HistoryModel) runLine(r HistoryRun, selected bool) string {
	mark := "  "
	if r.ID == m.marked {
		mark = "◆ "
	}
	rto := ""
	if r.RTO > 0 {
		rto = FormatDuration(r.RTO)
		switch {
		case r.RTOTarget == 0:
		case r.RTO <= r.RTOTarget:
			rto += " ✓"
		default:
			rto += " ✗ over"
		}
	}
	nw := m.nameWidth()
	name := truncate(safetext.Line(r.Runbook), nw)
	outcome := textfmt.Outcome(r.Outcome)
	line := fmt.Sprintf("%4d %-16s %-*s %-8s %6s  %s%s %s", r.ID, r.Started.Local().Format("2006-01-02 15:04"), nw, name,
		truncate(safetext.Line(r.Mode), 8), FormatDuration(r.Duration), outcome, strings.Repeat(" ", max(0, 13-lipgloss.Width(outcome))), rto)
	if selected {
		return "›" + mark + m.st.Selected.Render(line)
	}
	return " " + mark + line
}

// frame pads or cuts lines to the screen and adds the status and footer.
func (m *HistoryModel) frame(lines []string) string {
	bottom := ""
	switch {
	case m.errTxt != "":
		bottom = m.st.Error.Render("✗ " + safetext.Line(m.errTxt))
	case m.screen == historyFilter || m.filter.Value() != "":
		bottom = m.filter.View()
	case m.screen == historyView && len(m.lines) > 0:
		bottom = m.st.Dim.Render(fmt.Sprintf("lines %d–%d of %d", m.offset+1, min(len(m.lines), m.offset+m.bodyHeight()), len(m.lines)))
	}
	foot := footer(m.help, m.width, m.bindings(m.screen))
	body := m.height - 2
	for len(lines) < body {
		lines = append(lines, "")
	}
	lines = append(lines[:max(0, body)], bottom, foot)
	for i, l := range lines {
		lines[i] = strings.TrimRight(truncate(l, m.width), " ")
	}
	return strings.Join(lines, "\n")
}
