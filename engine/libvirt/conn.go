package libvirt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

// Reachability is whether a host answered, as last seen.
type Reachability string

// Reachability values.
const (
	Unknown     Reachability = "unknown" // not tried yet
	Reachable   Reachability = "reachable"
	Unreachable Reachability = "unreachable"
)

// HostStatus is what is known of one host without asking it anything.
type HostStatus struct {
	URI   string       `json:"uri"`
	State Reachability `json:"state"`
	// Err says why the host is unreachable; Reason is its message.
	Err    error  `json:"-"`
	Reason string `json:"reason,omitempty"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
}

// host is one daemon of a site and the connection to it. The connection is
// made on first use, and made again, with backoff, after it broke.
type host struct {
	site *Site
	ep   *endpoint
	// gate is held while connecting, so that concurrent callers make one
	// attempt; it is a channel so that waiting for it honours a context.
	gate chan struct{}

	mu       sync.Mutex
	cur      *link
	state    Reachability
	lastErr  error
	since    time.Time
	failures int
	nextTry  time.Time

	// requests counts the requests sent to this host, for benchmarks.
	requests atomic.Int64
}

// link is one connection. raw is the byte stream under go-libvirt: closing
// it is the only way to unblock go-libvirt calls, which have no timeout.
type link struct {
	lv     *golibvirt.Libvirt
	raw    net.Conn
	once   sync.Once
	mu     sync.Mutex
	reason error // why we closed it, for the calls it interrupted
	// inflight counts the calls waiting for an answer on this link: a call
	// that gives up closes the link only when it is the last one (see do).
	inflight int
	// doms caches domain handles by name, so that a call on a known domain
	// does not start with a DomainLookupByName round trip. Handles are
	// per daemon: the cache dies with the link.
	doms    map[string]golibvirt.Domain
	noCache bool
}

// countingConn counts the requests sent on a connection: go-libvirt
// flushes each request in one write.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

// enter counts a call in; leave counts it out and says how many remain.
func (k *link) enter() {
	k.mu.Lock()
	k.inflight++
	k.mu.Unlock()
}

func (k *link) leave() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight--
	return k.inflight
}

// domain returns the handle of the domain called name, from the cache or
// looked up; cached says which.
func (k *link) domain(name string) (d golibvirt.Domain, cached bool, err error) {
	k.mu.Lock()
	d, cached = k.doms[name]
	k.mu.Unlock()
	if cached {
		return d, true, nil
	}
	d, err = k.lv.DomainLookupByName(name)
	if err != nil {
		return d, false, err
	}
	if !k.noCache {
		k.keep(d)
	}
	return d, false, nil
}

// keep caches a domain handle.
func (k *link) keep(d golibvirt.Domain) {
	if k.noCache {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.doms == nil {
		k.doms = map[string]golibvirt.Domain{}
	}
	k.doms[d.Name] = d
}

// drop forgets a cached handle: the domain was undefined or redefined.
func (k *link) drop(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.doms, name)
}

func (k *link) alive() bool {
	select {
	case <-k.lv.Disconnected():
		return false
	default:
		return true
	}
}

func (k *link) kill(reason error) {
	k.once.Do(func() {
		k.mu.Lock()
		k.reason = reason
		k.mu.Unlock()
		k.raw.Close()
	})
}

func (k *link) closedBecause() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}

// onceDialer hands go-libvirt a connection that is already open.
type onceDialer struct{ c net.Conn }

func (d onceDialer) Dial() (net.Conn, error) { return d.c, nil }

func newHost(s *Site, ep *endpoint) *host {
	return &host{site: s, ep: ep, gate: make(chan struct{}, 1), state: Unknown, since: time.Now()}
}

var errSiteClosed = errors.New("the site was closed")

func (s *Site) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// errNotSent marks a call whose deadline had passed before it was made:
// nothing was sent, and the connection is left alone.
type errNotSent struct{ cause error }

func (e *errNotSent) Error() string {
	if errors.Is(e.cause, context.Canceled) {
		return "not sent: the call was cancelled before it was made"
	}
	return "not sent: its deadline had already passed"
}

func (e *errNotSent) Unwrap() error { return e.cause }

// errNoAnswer marks a call abandoned at its deadline.
type errNoAnswer struct {
	budget time.Duration
	cause  error // context.DeadlineExceeded or context.Canceled
}

func (e *errNoAnswer) Error() string {
	if errors.Is(e.cause, context.Canceled) {
		return "call abandoned (cancelled); the connection was closed"
	}
	return fmt.Sprintf("no answer within %s — check the host or the link", roundDuration(e.budget))
}

func (e *errNoAnswer) Unwrap() error { return e.cause }

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// unreachable wraps cause as this host's ErrUnreachable.
func (h *host) unreachable(cause error) error {
	return &Error{Site: h.site.name, URI: h.ep.display, Kind: engine.ErrUnreachable, Err: cause}
}

// current returns the live connection, or nil; it notices a dropped one.
func (h *host) current() *link {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return nil
	}
	if h.cur.alive() {
		return h.cur
	}
	why := h.cur.closedBecause()
	if why == nil {
		why = errors.New("the connection to the daemon was lost")
	}
	h.setDown(why)
	h.cur = nil
	return nil
}

// setDown records a failure and when to try again. Callers hold h.mu.
func (h *host) setDown(why error) {
	if h.state != Unreachable {
		h.since = time.Now()
	}
	h.state, h.lastErr = Unreachable, why
	h.failures++
	back := h.site.opts.MinBackoff << min(h.failures-1, 16)
	if back > h.site.opts.MaxBackoff || back <= 0 {
		back = h.site.opts.MaxBackoff
	}
	h.nextTry = time.Now().Add(back)
}

func (h *host) setUp(k *link) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != Reachable {
		h.since = time.Now()
	}
	h.cur, h.state, h.lastErr, h.failures, h.nextTry = k, Reachable, nil, 0, time.Time{}
}

// lost forgets a connection after a failure on it, closing it.
func (h *host) lost(k *link, why error) {
	k.kill(why)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == k {
		h.cur = nil
		h.setDown(why)
	}
}

func (h *host) status() HostStatus {
	h.current()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := HostStatus{URI: h.ep.display, State: h.state, Err: h.lastErr, Since: h.since}
	if h.lastErr != nil {
		st.Reason = h.lastErr.Error()
	}
	return st
}

// get returns a live connection, connecting when there is none.
func (h *host) get(ctx context.Context, budget time.Duration) (*link, error) {
	if k := h.current(); k != nil {
		return k, nil
	}
	select {
	case h.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, h.unreachable(&errNoAnswer{budget, ctx.Err()})
	}
	defer func() { <-h.gate }()
	if k := h.current(); k != nil {
		return k, nil // another caller connected meanwhile
	}
	h.mu.Lock()
	wait, last := time.Until(h.nextTry), h.lastErr
	h.mu.Unlock()
	if wait > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, h.unreachable(fmt.Errorf("%w (next attempt in %s)", last, roundDuration(wait)))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, h.unreachable(fmt.Errorf("%w (not retried yet)", last))
		case <-t.C:
		}
	}
	k, err := h.connect(ctx, budget)
	if err != nil {
		h.mu.Lock()
		h.setDown(err)
		h.mu.Unlock()
		return nil, h.unreachable(err)
	}
	if h.site.isClosed() {
		k.kill(errSiteClosed) // Close ran while we connected: nobody would close this one
		return nil, h.unreachable(errSiteClosed)
	}
	h.setUp(k)
	return k, nil
}

// connect opens the byte stream and the libvirt connection over it, both
// under ctx.
func (h *host) connect(ctx context.Context, budget time.Duration) (*link, error) {
	raw, err := h.ep.dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &errNoAnswer{budget, ctx.Err()}
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	lv := golibvirt.NewWithDialer(onceDialer{countingConn{raw, &h.requests}})
	done := make(chan error, 1)
	go func() {
		err := lv.ConnectToURI(h.ep.remote)
		if err == nil {
			// One round trip from the goroutine that connected: go-libvirt
			// sets a field after starting the goroutine that reads it when
			// the link drops, and only a call orders the two (a daemon
			// killed right after the connection is made is a data race in
			// go-libvirt otherwise). It also proves the link answers.
			_, err = lv.ConnectGetLibVersion()
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		raw.Close() // unblocks ConnectToURI, which then returns on its own
		return nil, &errNoAnswer{budget, ctx.Err()}
	}
	if err != nil {
		raw.Close()
		if d, ok := raw.(interface{ Diagnose() string }); ok {
			if msg := d.Diagnose(); msg != "" {
				return nil, fmt.Errorf("open %s: %s", h.ep.remote, msg)
			}
		}
		return nil, fmt.Errorf("open %s: %w", h.ep.remote, err)
	}
	return &link{lv: lv, raw: raw, noCache: h.site.opts.noHandleCache}, nil
}

// do runs fn on this host's connection under ctx, or under the call timeout
// when ctx has no deadline. fn's go-libvirt calls cannot be cancelled: when
// the deadline passes, do returns ErrUnreachable ("no answer within" the
// call's real budget), and closes the connection, which fails fn's calls
// at once and leaves the next call to reconnect, but only when no other
// call is waiting on that connection: a short probe (the console's site
// monitor) that gives up must not fail a start that has 30 s to finish.
// The last call to give up closes it. Errors from the daemon itself are
// returned as they are, for the caller to classify.
func (h *host) do(ctx context.Context, fn func(*golibvirt.Libvirt) error) error {
	return h.doLink(ctx, func(k *link) error { return fn(k.lv) })
}

// doLink is do with the link itself, for the domain handle cache.
func (h *host) doLink(ctx context.Context, fn func(*link) error) error {
	ctx, cancel := h.site.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return &errNotSent{err}
	}
	budget := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl)
	}
	k, err := h.get(ctx, budget)
	if err != nil {
		return err
	}
	k.enter()
	done := make(chan error, 1)
	go func() { done <- fn(k) }()
	select {
	case err := <-done:
		k.leave()
		if err != nil && isTransport(err) {
			why := k.closedBecause()
			if why == nil {
				why = fmt.Errorf("the connection to the daemon was lost: %w", err)
			}
			h.lost(k, why)
			return h.unreachable(why)
		}
		h.answered(k)
		return err
	case <-ctx.Done():
		why := &errNoAnswer{budget, ctx.Err()}
		if k.leave() > 0 {
			// Other calls wait on this link, each with its own deadline:
			// the last of them closes it if the daemon stays silent.
			h.suspect(why)
			return h.unreachable(why)
		}
		h.lost(k, why)
		return h.unreachable(why)
	}
}

// suspect marks the host unreachable for Status without closing its
// connection, which other calls are still waiting on.
func (h *host) suspect(why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != Unreachable {
		h.since = time.Now()
	}
	h.state, h.lastErr = Unreachable, why
}

// answered marks the host reachable again after a suspicion, when k
// answered a call.
func (h *host) answered(k *link) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == k && h.state != Reachable {
		h.state, h.lastErr, h.since = Reachable, nil, time.Now()
	}
}

// close ends the connection: politely when the daemon answers within a
// second, by closing the stream otherwise.
func (h *host) close() {
	h.mu.Lock()
	k := h.cur
	h.cur = nil
	h.mu.Unlock()
	if k == nil {
		return
	}
	bye := make(chan struct{})
	go func() { defer close(bye); _ = k.lv.Disconnect() }()
	select {
	case <-bye:
	case <-time.After(time.Second): // a hung daemon never answers; closing the stream below frees the goroutine
	}
	k.kill(errors.New("closed"))
}
