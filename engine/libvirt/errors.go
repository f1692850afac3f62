package libvirt

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

// Error is every error the driver returns: it names the site, the host's URI
// and the domain, and wraps one of the engine's sentinels (ErrUnreachable,
// ErrDomainNotFound, ErrInvalidOperation) when one applies, plus the cause.
type Error struct {
	Site   string
	URI    string
	Domain string // empty for site-wide failures
	Op     string // what was being done, e.g. "start"; empty when unreachable
	Kind   error  // an engine sentinel, or nil
	Err    error
}

func (e *Error) Error() string {
	var pe *engine.PlacementError
	if errors.As(e.Err, &pe) {
		return e.Err.Error() // it names the site, the domain and every host
	}
	var b strings.Builder
	b.WriteString("site ")
	b.WriteString(e.Site)
	b.WriteString(" (")
	b.WriteString(e.URI)
	b.WriteString(")")
	if e.Domain != "" {
		b.WriteString(", domain ")
		b.WriteString(e.Domain)
	}
	b.WriteString(": ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Host is the URI of the host the call went to (for a site-wide failure of
// a site of several hosts, every host's); it implements engine.HostError.
func (e *Error) Host() string { return e.URI }

var _ engine.HostError = (*Error)(nil)

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// kindOf maps a go-libvirt error to the engine's sentinels: this is the one
// place libvirt error codes are interpreted.
func kindOf(err error) error {
	var ns *errNotSent
	if errors.As(err, &ns) {
		return nil // nothing was sent: the host may be fine
	}
	var le golibvirt.Error
	if errors.As(err, &le) {
		switch golibvirt.ErrorNumber(le.Code) {
		case golibvirt.ErrNoDomain, golibvirt.ErrNoDomainSnapshot:
			return engine.ErrDomainNotFound
		case golibvirt.ErrOperationInvalid:
			return engine.ErrInvalidOperation
		case golibvirt.ErrRPC, golibvirt.ErrNoConnect:
			return engine.ErrUnreachable
		}
		return nil
	}
	if isTransport(err) {
		return engine.ErrUnreachable
	}
	return nil
}

// isTransport tells whether err means the link to the daemon broke, rather
// than the daemon refusing the call.
func isTransport(err error) bool {
	var ne net.Error
	return errors.Is(err, golibvirt.ErrInterrupted) ||
		errors.Is(err, syscall.EINVAL) || // go-libvirt's "not connected"
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrClosed) ||
		errors.As(err, &ne)
}
