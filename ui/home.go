package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
)

// HomeRunbook is a runbook the home screen offers to start.
type HomeRunbook struct {
	// Arg is what repli run takes to find it again: a path or a name.
	Arg   string
	Name  string
	Title string
	// From says where it was found: bundled, ./runbooks, a directory.
	From  string
	Sites []string
	RTO   time.Duration
	// Last is the runbook's last run, if any.
	Last *HomeRun
	// Broken is why the runbook cannot be started (it does not parse).
	Broken string
}

// HomeRun is a run in the audit trail.
type HomeRun struct {
	ID        int64
	Runbook   string
	Mode      string
	Operator  string
	Host      string
	Started   time.Time
	Outcome   engine.Outcome
	RTO       time.Duration // achieved, 0 when not measured
	RTOTarget time.Duration
	Simulated bool
	// Standing, for a run that has not ended: running detached, waiting
	// for a person, driven by a console, or interrupted (resume it).
	Standing string
}

// HomeData is what the home screen shows: where the trail is, the runbooks
// to start, the runs that stopped before their end, the last runs.
type HomeData struct {
	DB       string
	Runbooks []HomeRunbook
	Stopped  []HomeRun
	Recent   []HomeRun
	// Demo offers the demo drill on simulated sites.
	Demo bool
}

// ChoiceKind is what the operator picked on the home screen.
type ChoiceKind int

// Choices.
const (
	ChoiceNone ChoiceKind = iota
	ChoiceStart
	ChoiceResume
	ChoiceDemo
)

// Choice is the home screen's answer: start a runbook (Runbook is its Arg),
// resume a run, or the demo. Mode and Override are set on the preflight
// screen.
type Choice struct {
	Kind     ChoiceKind
	Runbook  string
	RunID    int64
	Mode     string
	Override string
}

type homeItem struct {
	choice Choice
	label  string
	detail string
	search string
}

// HomeModel is the first screen: stopped runs first, so a console that died
// at 3 a.m. is picked up in one keypress, then the runbooks, the demo, and
// the last runs.
type HomeModel struct {
	data   HomeData
	items  []homeItem
	shown  []int
	cursor int
	chosen *Choice
	filter textinput.Model
	mode   Mode // ModeHome, ModeFilter or ModeHelp
	st     Styles
	keys   KeyMap
	help   help.Model
	width  int
	height int
	errTxt string
	status string
	// onChoose, when set, is the command run on a choice (inside the
	// console); otherwise the program quits with Chosen set.
	onChoose func(Choice) tea.Cmd
}

// NewHomeModel builds the first screen.
func NewHomeModel(data HomeData, r *lipgloss.Renderer) *HomeModel {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	st := NewStyles(r)
	m := &HomeModel{data: data, st: st, keys: DefaultKeys, help: newHelp(st), width: 80, height: 24, mode: ModeHome}
	for _, r := range data.Stopped {
		verb, how := "Resume", "stopped"
		switch r.Standing {
		case "running detached", "waiting for a person", "driven by a console":
			verb, how = "Attach to", r.Standing
		}
		m.items = append(m.items, homeItem{
			choice: Choice{Kind: ChoiceResume, RunID: r.ID},
			label:  fmt.Sprintf("%s run %d · %s · %s mode", verb, r.ID, safetext.Line(r.Runbook), safetext.Line(r.Mode)),
			detail: fmt.Sprintf("%s; driven by %s on %s, started %s", how, safetext.Line(r.Operator), safetext.Line(r.Host), r.Started.Local().Format("2006-01-02 15:04")),
			search: r.Runbook + " " + r.Mode + " " + r.Operator,
		})
	}
	if data.Demo {
		m.items = append(m.items, homeItem{
			choice: Choice{Kind: ChoiceDemo},
			label:  "Start the demo drill",
			detail: "the bundled annual-pra-test on a simulated two-site lab (marked simulated)",
			search: "demo simulated",
		})
	}
	for _, rb := range data.Runbooks {
		it := homeItem{
			choice: Choice{Kind: ChoiceStart, Runbook: rb.Arg},
			label:  fmt.Sprintf("%-22s %s", safetext.Line(rb.Name), safetext.Line(rb.Title)),
			search: rb.Name + " " + rb.Title + " " + rb.From + " " + strings.Join(rb.Sites, " "),
		}
		d := []string{safetext.Line(strings.Join(rb.Sites, " → "))}
		if rb.RTO > 0 {
			d = append(d, "RTO "+FormatDuration(rb.RTO))
		}
		if rb.Last != nil {
			d = append(d, "last "+rb.Last.Started.Local().Format("01-02 15:04")+" "+OutcomeLabel(rb.Last.Outcome))
		} else {
			d = append(d, "never run")
		}
		d = append(d, safetext.Line(rb.From))
		if rb.Broken != "" {
			d = []string{"✗ cannot be started: " + safetext.Line(rb.Broken)}
		}
		it.detail = strings.Join(d, " · ")
		m.items = append(m.items, it)
	}
	m.filter = textinput.New()
	m.filter.Prompt = "/"
	m.filter.CharLimit = 60
	m.refilter()
	return m
}

// Chosen is the item picked, or nil when the operator quit.
func (m *HomeModel) Chosen() *Choice { return m.chosen }

// Mode is home, filter or help.
func (m *HomeModel) Mode() Mode { return m.mode }

func (m *HomeModel) refilter() {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	m.shown = m.shown[:0]
	for i, it := range m.items {
		if q == "" || strings.Contains(strings.ToLower(it.search+" "+it.label), q) {
			m.shown = append(m.shown, i)
		}
	}
	m.cursor = min(m.cursor, max(0, len(m.shown)-1))
}

// Init implements tea.Model.
func (m *HomeModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *HomeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *HomeModel) key(k tea.KeyMsg) tea.Cmd {
	m.errTxt = ""
	switch m.mode {
	case ModeHelp:
		if matches(k, m.keys.CloseHelp) {
			m.mode = ModeHome
		}
		return nil
	case ModeFilter:
		switch {
		case matches(k, m.keys.Cancel):
			m.filter.SetValue("")
			m.filter.Blur()
			m.mode = ModeHome
		case matches(k, m.keys.Submit):
			m.filter.Blur()
			m.mode = ModeHome
		default:
			cmd := typeInto(&m.filter, k)
			m.refilter()
			return cmd
		}
		m.refilter()
		return nil
	}
	switch {
	case matches(k, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case matches(k, m.keys.Down):
		m.cursor = max(0, min(len(m.shown)-1, m.cursor+1))
	case matches(k, m.keys.Filter):
		m.mode = ModeFilter
		return m.filter.Focus()
	case matches(k, m.keys.Help):
		m.mode = ModeHelp
	case matches(k, m.keys.Back):
		m.filter.SetValue("")
		m.refilter()
	case matches(k, m.keys.Open):
		if len(m.shown) == 0 {
			return nil
		}
		c := m.items[m.shown[m.cursor]].choice
		m.chosen = &c
		if m.onChoose != nil {
			return m.onChoose(c)
		}
		return tea.Quit
	case matches(k, m.keys.Quit), matches(k, m.keys.Interrupt):
		return tea.Quit
	}
	return nil
}

// View implements tea.Model: exactly the screen's height.
func (m *HomeModel) View() string {
	w := m.width
	head := m.st.Header.Render("repli") + " · disaster-recovery console"
	trail := m.st.Dim.Render("trail: " + safetext.Line(m.data.DB))
	if gap := w - lipgloss.Width(head) - lipgloss.Width(trail); gap > 1 {
		head += strings.Repeat(" ", gap) + trail
	}
	out := []string{head, m.st.Rule.Render(strings.Repeat("─", w))}
	if m.mode == ModeHelp {
		out = append(out, m.st.Bold.Render("Keys")+m.st.Dim.Render(" (? or esc closes this help)"))
		for _, b := range m.keys.bindings(ModeHome, nil) {
			out = append(out, fmt.Sprintf("  %-8s %s", b.Help().Key, b.Help().Desc))
		}
		out = append(out, "", "On a run: "+m.st.Dim.Render("? shows every key of the run screen"))
		return m.frame(out)
	}
	if n := len(m.data.Stopped); n > 0 {
		out = append(out, m.st.Warn.Render(fmt.Sprintf("⏸ stopped before their end: %s · pick one to carry on where it stopped", plural(n, "run", "runs"))))
	} else if len(m.data.Recent) == 0 {
		out = append(out, m.st.Dim.Render("The audit trail is empty: start a runbook, or the demo drill to try one."))
	}
	recentH := 0
	if len(m.data.Recent) > 0 {
		recentH = min(len(m.data.Recent)+1, max(2, (m.height-8)/4))
	}
	room := m.height - len(out) - 2 - recentH // footer and filter line
	out = append(out, m.itemLines(room)...)
	if recentH > 0 {
		out = append(out, m.st.Bold.Render("Last runs"))
		for _, r := range m.data.Recent[:recentH-1] {
			out = append(out, "  "+recentLine(r))
		}
	}
	return m.frame(out)
}

// itemLines renders the choices that fit in h lines, scrolled to the cursor.
func (m *HomeModel) itemLines(h int) []string {
	if len(m.shown) == 0 {
		return []string{m.st.Dim.Render("  nothing matches the filter; esc clears it")}
	}
	per := 2
	first := 0
	if fit := max(1, h/per); m.cursor >= fit {
		first = m.cursor - fit + 1
	}
	var out []string
	for i := first; i < len(m.shown) && len(out)+per <= h; i++ {
		it := m.items[m.shown[i]]
		marker, label := "  ", it.label
		if i == m.cursor {
			marker, label = "› ", m.st.Bold.Render(label)
		}
		out = append(out, marker+label)
		out = append(out, "    "+m.st.Dim.Render(it.detail))
	}
	return out
}

func recentLine(r HomeRun) string {
	rto := ""
	if r.RTO > 0 {
		rto = " · RTO " + FormatDuration(r.RTO) + RTOVerdict(r.RTO, r.RTOTarget)
	}
	sim := ""
	if r.Simulated {
		sim = " · simulated"
	}
	return fmt.Sprintf("run %d · %s · %s · %s · %s%s%s", r.ID, r.Started.Local().Format("01-02 15:04"), safetext.Line(r.Runbook), safetext.Line(r.Mode),
		OutcomeLabel(r.Outcome), sim, rto)
}

// frame pads or cuts lines to the screen and adds the filter and footer.
func (m *HomeModel) frame(lines []string) string {
	bottom := []string{""}
	if m.mode == ModeFilter || m.filter.Value() != "" {
		bottom[0] = m.filter.View()
	}
	if m.status != "" {
		bottom[0] = m.st.Warn.Render(m.status)
	}
	if m.errTxt != "" {
		bottom[0] = m.st.Error.Render("✗ " + safetext.Line(m.errTxt))
	}
	bottom = append(bottom, footer(m.help, m.width, m.keys.bindings(m.footerMode(), nil)))
	for len(lines) < m.height-len(bottom) {
		lines = append(lines, "")
	}
	lines = append(lines[:max(0, m.height-len(bottom))], bottom...)
	for i, l := range lines {
		if lipgloss.Width(l) > m.width {
			l = ansi.Truncate(l, m.width, "…")
		}
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func (m *HomeModel) footerMode() Mode {
	if m.mode == ModeHelp || m.mode == ModeFilter {
		return m.mode
	}
	return ModeHome
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}
