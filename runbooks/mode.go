package runbooks

import (
	"fmt"
	"strings"
)

// ModeFailback is the mode of a run that brings production back: the runs
// of a runbook written by repli reverse, and only those.
const ModeFailback = "failback"

// RunMode decides the mode a run of the runbook is in, from --mode's value
// (requested) and whether the operator gave it (given).
//
// A runbook written by repli reverse (it says reverse_of) runs in failback
// mode without being told, or in disaster mode when the site production runs
// at now is lost; test and planned do not describe a way back and are
// refused. Any other runbook refuses --mode failback: the way back is
// generated and reviewed, not a mode switch on the way out.
func (rb *Runbook) RunMode(requested string, given bool) (string, error) {
	if !contains(Modes, requested) {
		return "", fmt.Errorf("--mode %q: use one of %s%s", requested, strings.Join(Modes, ", "), suggest(requested, Modes))
	}
	if rb.ReverseOf != nil {
		switch {
		case !given:
			return ModeFailback, nil
		case requested == ModeFailback || requested == "disaster":
			return requested, nil
		}
		return "", fmt.Errorf("--mode %s: runbook %s is the way back of %s (written by repli reverse), so its runs are failbacks; run it without --mode, or with --mode disaster if the site production runs at now is lost", requested, rb.Name, rb.ReverseOf.Name)
	}
	if requested == ModeFailback {
		return "", fmt.Errorf("--mode failback runs a way back written by repli reverse, and runbook %s is not one: write it with `repli reverse %s -o %s-return.yaml`, review it, and run that file", rb.Name, rb.fileOrName(), rb.Name)
	}
	return requested, nil
}

func (rb *Runbook) fileOrName() string {
	if rb.File != "" && !strings.HasPrefix(rb.File, "runbooks/examples/") {
		return rb.File
	}
	return rb.Name
}
