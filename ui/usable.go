package ui

import (
	"os"

	"github.com/mattn/go-isatty"
)

// Usable reports whether out can show the full-screen console, and why not:
// not a terminal (a pipe, a file, a cron job), or TERM=dumb (Emacs shell,
// some serial consoles), where the cursor cannot be moved. The caller
// prints plain lines instead, and the reason once, so the operator knows
// why the screen looks different.
func Usable(out any) (bool, string) {
	f, ok := out.(interface{ Fd() uintptr })
	if !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return false, "plain mode: the output is not a terminal"
	}
	switch os.Getenv("TERM") {
	case "dumb":
		return false, "plain mode: TERM=dumb cannot show the full-screen console"
	case "":
		return false, "plain mode: TERM is not set, the terminal's abilities are unknown"
	}
	return true, ""
}
