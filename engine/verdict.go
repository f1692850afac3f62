package engine

import "errors"

// Verdicts recorded in ActionOutcome.Verdict.
const (
	VerdictDoneAfterAll = "done after all"
	VerdictInDoubt      = "in doubt"
)

// Verdict says what a driver's error tells of an action whose answer was
// lost: VerdictDoneAfterAll (record it as done, with the note),
// VerdictInDoubt (it may or may not have happened: reconcile before acting
// again), or "" (an ordinary outcome: done when err is nil, failed
// otherwise).
func Verdict(err error) string {
	switch {
	case errors.Is(err, ErrDoneAfterAll):
		return VerdictDoneAfterAll
	case errors.Is(err, ErrInDoubt):
		return VerdictInDoubt
	}
	return ""
}

// HostError is implemented by drivers' errors that already name the site,
// the host and the domain (engine/libvirt's *Error): the engine adds no
// prefix of its own, and Host is where the call went.
type HostError interface {
	error
	Host() string
}

// ErrorHost returns the host a driver's error names, or "".
func ErrorHost(err error) string {
	var he HostError
	if errors.As(err, &he) {
		return he.Host()
	}
	return ""
}
