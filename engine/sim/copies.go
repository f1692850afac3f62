package sim

import (
	"fmt"

	"github.com/repli-dr/repli/engine"
)

// AddCopy defines a second copy of a domain at a site, on another of its
// hosts (host is that host's URI, e.g. sim://primary/kvm2), in the given
// state: the stale definition a real multi-host site can hold. ListDomains
// and Locate report it as a placement; actions keep going to the first
// copy, and OnHost does not reach the copy (the sim has one host to act
// on). It is how the preflight's "defined on two hosts" and "split brain"
// are tested without two real daemons.
func (l *Lab) AddCopy(site, host, name string, state engine.DomainState) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.copies == nil {
		s.copies = map[string][]engine.Placement{}
	}
	s.copies[name] = append(s.copies[name], engine.Placement{Host: host, State: state})
}

// placements lists where a domain is defined when it has copies: its own
// host first. Callers hold lab.mu and have settled d.
func (s *Site) placements(d *domain) []engine.Placement {
	extra := s.copies[d.name]
	if len(extra) == 0 {
		return nil
	}
	return append([]engine.Placement{{Host: s.uri(), State: d.state, Autostart: d.autostart}}, extra...)
}

// listed is a domain as ListDomains gives it: with its placements when it
// has copies, and the host where it is most active.
func (s *Site) listed(d *domain) engine.Domain {
	out := engine.Domain{Name: d.name, State: d.state}
	ps := s.placements(d)
	if ps == nil {
		return out
	}
	out.Placements, out.Host = ps, ps[0].Host
	if !engine.Active(d.state) {
		for _, p := range ps[1:] {
			if engine.Active(p.State) {
				out.State, out.Host = p.State, p.Host
				break
			}
		}
	}
	return out
}

func (s *Site) copyHostError(uri string) error {
	return fmt.Errorf("%w: %q holds a copy the sim does not act on", engine.ErrUnknownHost, uri)
}
