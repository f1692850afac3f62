package sim

import (
	"context"
	"encoding/xml"
	"fmt"
	"hash/fnv"

	"github.com/repli-dr/repli/engine"
)

// Info implements engine.Hypervisor.
func (s *Site) Info(ctx context.Context) (engine.SiteInfo, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if s.unreachable {
		return engine.SiteInfo{}, fmt.Errorf("%w: sim://%s does not answer", engine.ErrUnreachable, s.name)
	}
	return engine.SiteInfo{Hostname: "sim-" + s.name, LibvirtVersion: "sim", Hypervisor: "SIM", HypervisorVersion: "1.0"}, nil
}

// mutate runs fn on a domain under the lab's lock.
func (s *Site) mutate(name string, fn func(d *domain) error) error {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	d, err := s.lookup(name)
	if err != nil {
		return err
	}
	if err := fn(d); err != nil {
		return err
	}
	_ = s.lab.save(s, name)
	return nil
}

func invalid(name string, d *domain, why string) error {
	return fmt.Errorf("%w: domain %s is %s%s", engine.ErrInvalidOperation, name, d.state, why)
}

// Suspend implements engine.Hypervisor.
func (s *Site) Suspend(ctx context.Context, name string) error {
	return s.mutate(name, func(d *domain) error {
		if d.state != engine.StateRunning {
			return invalid(name, d, "")
		}
		s.set(d, engine.StatePaused)
		return nil
	})
}

// Resume implements engine.Hypervisor.
func (s *Site) Resume(ctx context.Context, name string) error {
	return s.mutate(name, func(d *domain) error {
		if d.state != engine.StatePaused {
			return invalid(name, d, ", not paused")
		}
		s.set(d, engine.StateRunning)
		return nil
	})
}

func fakeUUID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(name))
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// DomainXML implements engine.Hypervisor.
func (s *Site) DomainXML(ctx context.Context, name string) (string, error) {
	var out string
	err := s.mutate(name, func(d *domain) error {
		out = d.xml
		if out == "" {
			out = fmt.Sprintf("<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n  <memory unit='MiB'>1024</memory>\n  <vcpu>1</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n</domain>\n", name, fakeUUID(name))
		}
		return nil
	})
	return out, err
}

// Define implements engine.Hypervisor.
func (s *Site) Define(ctx context.Context, domXML string) (string, error) {
	var v struct {
		Name string `xml:"name"`
	}
	if err := xml.Unmarshal([]byte(domXML), &v); err != nil || v.Name == "" {
		return "", fmt.Errorf("%w: domain XML has no <name>", engine.ErrInvalidOperation)
	}
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if s.unreachable {
		return "", fmt.Errorf("%w: sim://%s does not answer", engine.ErrUnreachable, s.name)
	}
	if d := s.domains[v.Name]; d != nil {
		d.xml = domXML
	} else {
		s.domains[v.Name] = &domain{name: v.Name, state: engine.StateShutoff, xml: domXML, snapshots: map[string]engine.DomainState{}}
	}
	_ = s.lab.save(s, v.Name)
	return v.Name, nil
}

// Undefine implements engine.Hypervisor.
func (s *Site) Undefine(ctx context.Context, name string) error {
	return s.mutate(name, func(d *domain) error {
		if d.state != engine.StateShutoff {
			return invalid(name, d, "; stop it before undefining it")
		}
		delete(s.domains, name)
		return nil
	})
}

// Snapshot implements engine.Hypervisor. A snapshot remembers the state the
// domain was in; reverting returns to it.
func (s *Site) Snapshot(ctx context.Context, name string, op engine.SnapshotOp, snap string) error {
	return s.mutate(name, func(d *domain) error {
		_, exists := d.snapshots[snap]
		switch op {
		case engine.SnapshotCreate:
			if exists {
				return fmt.Errorf("%w: snapshot %q of %s already exists", engine.ErrInvalidOperation, snap, name)
			}
			d.snapshots[snap] = d.state
		case engine.SnapshotRevert:
			if !exists {
				return fmt.Errorf("%w: domain %s has no snapshot %q", engine.ErrDomainNotFound, name, snap)
			}
			s.set(d, d.snapshots[snap])
		case engine.SnapshotDelete:
			if !exists {
				return fmt.Errorf("%w: domain %s has no snapshot %q", engine.ErrDomainNotFound, name, snap)
			}
			delete(d.snapshots, snap)
		default:
			return fmt.Errorf("unknown snapshot operation %q", op)
		}
		return nil
	})
}

// SetAutostart implements engine.Hypervisor.
func (s *Site) SetAutostart(ctx context.Context, name string, on bool) error {
	return s.mutate(name, func(d *domain) error {
		d.autostart = on
		return nil
	})
}

// Autostart reports a domain's autostart flag, for tests.
func (s *Site) Autostart(name string) bool {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	d := s.domains[name]
	return d != nil && d.autostart
}

// AgentPing implements engine.Hypervisor: the agent answers in running
// domains, unless the no-agent fault is set.
func (s *Site) AgentPing(ctx context.Context, name string) error {
	return s.mutate(name, func(d *domain) error {
		if d.state != engine.StateRunning || d.noAgent {
			return fmt.Errorf("guest agent of %s is not connected", name)
		}
		return nil
	})
}

// Watch implements engine.Watcher.
func (s *Site) Watch(ctx context.Context) (<-chan engine.Domain, error) {
	ch := make(chan engine.Domain, 256)
	s.lab.mu.Lock()
	s.watchers = append(s.watchers, ch)
	s.lab.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.lab.mu.Lock()
		defer s.lab.mu.Unlock()
		for i, w := range s.watchers {
			if w == ch {
				s.watchers = append(s.watchers[:i], s.watchers[i+1:]...)
				break
			}
		}
		close(ch)
	}()
	return ch, nil
}

var _ engine.Watcher = (*Site)(nil)
