package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/repli-dr/repli/engine"
)

// uri is the one host of a simulated site.
func (s *Site) uri() string { return "sim://" + s.name }

// Locate implements engine.Hypervisor: a simulated site has one host, its
// sim:// URI, and the copies AddCopy gave it.
func (s *Site) Locate(ctx context.Context, name string) ([]engine.Placement, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if s.unreachable {
		return nil, fmt.Errorf("%w: %s does not answer", engine.ErrUnreachable, s.uri())
	}
	d := s.domains[name]
	if d == nil {
		return nil, nil
	}
	s.settle(d, time.Now())
	if ps := s.placements(d); ps != nil {
		return ps, nil
	}
	return []engine.Placement{{Host: s.uri(), State: d.state, Autostart: d.autostart}}, nil
}

// OnHost implements engine.Hypervisor: the site itself, its only host.
func (s *Site) OnHost(uri string) (engine.Hypervisor, error) {
	if uri != s.uri() {
		s.lab.mu.Lock()
		defer s.lab.mu.Unlock()
		for _, ps := range s.copies {
			for _, p := range ps {
				if p.Host == uri {
					return nil, s.copyHostError(uri)
				}
			}
		}
		return nil, fmt.Errorf("%w: %q is not %s", engine.ErrUnknownHost, uri, s.uri())
	}
	return s, nil
}
