package ui

// Mode is what the console is doing, and so what a key press means and what
// the footer says. It is computed in one place (Model.Mode) and both the key
// dispatcher and the footer read it: they cannot disagree.
type Mode int

// Modes of the console.
const (
	ModeHome Mode = iota + 1
	ModeFilter
	ModePreflight
	ModeRun
	ModeGate
	ModeFailure
	ModeNote
	ModeHelp
	ModeQuitConfirm
	ModeSkipReason
	ModeAbortConfirm
	ModeWatch
	ModeEnd
)

var modeNames = map[Mode]string{
	ModeHome: "home", ModeFilter: "filter", ModePreflight: "preflight", ModeRun: "run",
	ModeGate: "gate", ModeFailure: "failure", ModeNote: "note", ModeHelp: "help",
	ModeQuitConfirm: "quit-confirm", ModeSkipReason: "skip-reason",
	ModeAbortConfirm: "abort-confirm", ModeWatch: "watch", ModeEnd: "end",
}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return "unknown"
}

// overlay reports whether a mode is shown over the run's own state (and
// goes back to it), rather than being that state.
func (m Mode) overlay() bool {
	switch m {
	case ModeNote, ModeHelp, ModeQuitConfirm, ModeSkipReason, ModeAbortConfirm:
		return true
	}
	return false
}
