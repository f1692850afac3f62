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
	// Host is the URI of the host it was listed on: for a domain defined
	// on several hosts of a site, the one where it is most active. Empty
	// when the driver does not say.
	Host string `json:"host,omitempty"`
	// Placements lists every host of the site that has the domain, only
	// when there is more than one (see CheckPlacements).
	Placements []Placement `json:"placements,omitempty"`
}

// Placement is one host of a site where a domain is defined.
type Placement struct {
	// Host is the host's URI, as the site's configuration gives it
	// (passwords hidden); OnHost takes it back.
	Host      string      `json:"host"`
	State     DomainState `json:"state"`
	Autostart bool        `json:"autostart"`
}

// Hypervisor is what the engine needs from a site. engine/libvirt implements
// it over go-libvirt, engine/sim over an in-memory lab. Every method must
// return when ctx is done, whatever the far side does: a hung daemon must
// never hang the console.
type Hypervisor interface {
	// Info describes the site: it is also the cheap liveness probe.
	Info(ctx context.Context) (SiteInfo, error)
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
	// Suspend pauses a running domain; Resume continues it.
	Suspend(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	// DomainXML returns the persistent (inactive) definition of a domain.
	DomainXML(ctx context.Context, name string) (string, error)
	// Define creates or replaces a persistent domain from XML and returns
	// its name.
	Define(ctx context.Context, xml string) (string, error)
	// Undefine removes a shut off domain's definition (and its snapshot
	// metadata); disks are left alone.
	Undefine(ctx context.Context, name string) error
	// Snapshot creates, reverts to or deletes a named snapshot.
	Snapshot(ctx context.Context, name string, op SnapshotOp, snapshot string) error
	// SetAutostart turns autostart on or off.
	SetAutostart(ctx context.Context, name string, on bool) error
	// AgentPing asks the QEMU guest agent for guest-ping; nil when it
	// answers. A guest with no agent channel at all is ErrNoAgent: waiting
	// will not help.
	AgentPing(ctx context.Context, name string) error
	// Locate lists every host of the site where the domain is defined, in
	// the site's host order; an empty list when no host has it. When some
	// host does not answer, the error wraps ErrUnreachable and names it,
	// and the placements found on the hosts that did answer are returned
	// with it.
	Locate(ctx context.Context, name string) ([]Placement, error)
	// OnHost returns the site restricted to one of its hosts (a URI from
	// Placement.Host or SiteInfo.Hosts): every call then acts on that host
	// only, which pins a domain to it. Closing the result is a no-op.
	OnHost(uri string) (Hypervisor, error)
	// Close releases the connection.
	Close() error
}

// SnapshotOp is what Snapshot does.
type SnapshotOp string

// Snapshot operations.
const (
	SnapshotCreate SnapshotOp = "create"
	SnapshotRevert SnapshotOp = "revert"
	SnapshotDelete SnapshotOp = "delete"
)

// SiteInfo describes a site's hypervisor, for the readiness check.
type SiteInfo struct {
	Hostname          string `json:"hostname"`
	LibvirtVersion    string `json:"libvirt_version"`
	Hypervisor        string `json:"hypervisor"`
	HypervisorVersion string `json:"hypervisor_version"`
	// Hosts lists, for a site served by several hosts, each host's URI.
	Hosts []string `json:"hosts,omitempty"`
}

// Watcher is implemented by hypervisors that push domain state changes
// (libvirt lifecycle events), so the console shows them as they happen.
type Watcher interface {
	// Watch sends every state change until ctx is done; the channel is
	// closed then, or when the connection drops.
	Watch(ctx context.Context) (<-chan Domain, error)
}

// Errors a Hypervisor maps its failures to, checked with errors.Is.
var (
	ErrDomainNotFound   = errors.New("domain not found")
	ErrUnreachable      = errors.New("site unreachable")
	ErrInvalidOperation = errors.New("operation not valid in the domain's current state")
	// ErrNoAgent: the guest has no guest agent channel configured; libvirt
	// says so at once, and no amount of waiting changes it.
	ErrNoAgent = errors.New("guest agent not configured")
	// ErrUnknownHost: OnHost was given a URI that is not one of the site's.
	ErrUnknownHost = errors.New("not a host of this site")
)

// Verdicts on an action whose answer was lost (its deadline passed, or the
// connection dropped, while it was in flight): the driver re-reads the
// domain's state before it returns, and says which it was.
var (
	// ErrDoneAfterAll: the answer was lost but the state re-read shows the
	// action took effect. It is not a failure: record the action as done,
	// with the note.
	ErrDoneAfterAll = errors.New("done after all")
	// ErrInDoubt: the answer was lost and the state could not be re-read:
	// the action may or may not have happened. It also wraps
	// ErrUnreachable. Reconcile before acting again.
	ErrInDoubt = errors.New("outcome unknown")
)
