package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/repli-dr/repli/engine"
)

// savedDomain is a domain as written to the lab's state file.
type savedDomain struct {
	State     engine.DomainState            `json:"state"`
	Next      engine.DomainState            `json:"next,omitempty"`
	At        time.Time                     `json:"at,omitempty"`
	XML       string                        `json:"xml,omitempty"`
	Autostart bool                          `json:"autostart,omitempty"`
	Snapshots map[string]engine.DomainState `json:"snapshots,omitempty"`
}

// Persist keeps the lab's state in a file, so that a console killed mid-run
// finds the simulated sites as it left them when it resumes (a real site
// does not forget either). When resuming, an existing file is loaded first;
// a new run starts from the lab as it is and overwrites any old file.
func (l *Lab) Persist(path string, resuming bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(path)
	if !resuming {
		err = fs.ErrNotExist
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read simulated lab state: %w", err)
	default:
		var saved map[string]map[string]savedDomain
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("simulated lab state %s: %w", path, err)
		}
		for site, doms := range saved {
			s := l.sites[site]
			if s == nil {
				s = &Site{lab: l, name: site, domains: map[string]*domain{}}
				l.sites[site] = s
			}
			for name, sd := range doms {
				d := s.domains[name]
				if d == nil {
					d = &domain{name: name}
					s.domains[name] = d
				}
				d.state, d.next, d.at, d.xml, d.autostart = sd.State, sd.Next, sd.At, sd.XML, sd.Autostart
				d.snapshots = sd.Snapshots
				if d.snapshots == nil {
					d.snapshots = map[string]engine.DomainState{}
				}
			}
		}
	}
	l.statePath = path
	return l.save()
}

// save writes the state file atomically. Callers hold l.mu.
func (l *Lab) save() error {
	if l.statePath == "" {
		return nil
	}
	out := map[string]map[string]savedDomain{}
	for name, s := range l.sites {
		out[name] = map[string]savedDomain{}
		for dn, d := range s.domains {
			out[name][dn] = savedDomain{State: d.state, Next: d.next, At: d.at, XML: d.xml, Autostart: d.autostart, Snapshots: d.snapshots}
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.statePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save simulated lab state: %w", err)
	}
	return os.Rename(tmp, l.statePath)
}

// StatePath is where a run's simulated lab state lives, beside its audit
// database.
func StatePath(db string, runID int64) string {
	return fmt.Sprintf("%s.sim-run-%d.json", db, runID)
}
