// Package engine executes a runbook against the hypervisors of its sites:
// a step state machine with gates, write-ahead journaling of every action,
// and typed events for whoever watches (the TUI, the plain CLI output).
package engine

import (
	"context"
	"errors"
)

// DomainState is the state of a libvirt domain, in libvirt's own words.
type DomainState string

// Domain states. StateShuttingDown is libvirt's transient "in shutdown":
// it is not shut off.
const (
	StateRunning      DomainState = "running"
	StateBlocked      DomainState = "blocked"
	StatePaused       DomainState = "paused"
	StateShuttingDown DomainState = "in shutdown"
	StateShutoff      DomainState = "shutoff"
	StateCrashed      DomainState = "crashed"
	StateSuspended    DomainState = "pmsuspended"
	StateNoState      DomainState = "nostate"
)

// Domain is a domain and its current state.
type Domain struct {
	Name  string      `json:"name"`
	State DomainState `json:"state"`
}

// Hypervisor is what the engine needs from a site. engine/libvirt implements
// it over go-libvirt, engine/sim over an in-memory lab. Every method must
// return when ctx is done, whatever the far side does.
type Hypervisor interface {
	// ListDomains returns every domain defined at the site, sorted by name.
	ListDomains(ctx context.Context) ([]Domain, error)
	// DomainState returns the current state of one domain.
	DomainState(ctx context.Context, name string) (DomainState, error)
	// Start boots a defined, shut off domain.
	Start(ctx context.Context, name string) error
	// Shutdown asks the guest to shut down (ACPI) and returns at once; the
	// caller waits for StateShutoff.
	Shutdown(ctx context.Context, name string) error
	// Destroy forces a domain off, like pulling the plug.
	Destroy(ctx context.Context, name string) error
	// Close releases the connection.
	Close() error
}

// Errors a Hypervisor maps its failures to, checked with errors.Is.
var (
	ErrDomainNotFound   = errors.New("domain not found")
	ErrUnreachable      = errors.New("site unreachable")
	ErrInvalidOperation = errors.New("operation not valid in the domain's current state")
)
