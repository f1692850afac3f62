package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
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
//
// The state is kept as a snapshot (path) and a log of changes beside it
// (path.log): each change appends one line, the domain's new record, before
// the lab's lock is released, so whatever the engine saw of the lab is on
// file even if the console is killed the next instant. Rewriting the whole
// state on every change made the lab quadratic in its size. When the log
// has grown to several times the lab, it is folded into a new snapshot.
func (l *Lab) Persist(path string, resuming bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.log != nil {
		l.log.Close()
		l.log = nil
	}
	if resuming {
		if err := l.load(path); err != nil {
			return err
		}
	}
	l.statePath = path
	return l.compact()
}

// savedChange is one line of the change log.
type savedChange struct {
	Site   string       `json:"site"`
	Name   string       `json:"name"`
	Domain *savedDomain `json:"domain,omitempty"` // nil: undefined
}

// load reads the snapshot and replays the change log over it. A last line
// cut short (a crash in the middle of a write) is ignored: its change had
// not been seen by anyone.
func (l *Lab) load(path string) error {
	b, err := os.ReadFile(path)
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
			for name, sd := range doms {
				l.restore(site, name, &sd)
			}
		}
	}
	b, err = os.ReadFile(path + ".log")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read simulated lab changes: %w", err)
	}
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
		var c savedChange
		if err := json.Unmarshal(line, &c); err != nil {
			return fmt.Errorf("simulated lab changes %s.log: %w", path, err)
		}
		l.restore(c.Site, c.Name, c.Domain)
	}
	return nil
}

// restore sets one domain as saved; sd nil removes it. Callers hold l.mu.
func (l *Lab) restore(site, name string, sd *savedDomain) {
	s := l.sites[site]
	if s == nil {
		s = &Site{lab: l, name: site, domains: map[string]*domain{}}
		l.sites[site] = s
	}
	if sd == nil {
		delete(s.domains, name)
		return
	}
	d := s.domains[name]
	if d == nil {
		d = &domain{name: name}
		s.domains[name] = d
	}
	d.state, d.next, d.at, d.xml, d.autostart = sd.State, sd.Next, sd.At, sd.XML, sd.Autostart
	d.snapshots = maps.Clone(sd.Snapshots)
	if d.snapshots == nil {
		d.snapshots = map[string]engine.DomainState{}
	}
}

func saved(d *domain) *savedDomain {
	return &savedDomain{State: d.state, Next: d.next, At: d.at, XML: d.xml, Autostart: d.autostart, Snapshots: d.snapshots}
}

// compact writes the whole state as the snapshot, atomically, and starts
// an empty change log. Callers hold l.mu. A crash between the two leaves
// the old log beside the new snapshot: replaying it again changes nothing,
// since each line is a domain's whole record and the last one wins.
func (l *Lab) compact() error {
	out := map[string]map[string]*savedDomain{}
	n := 0
	for name, s := range l.sites {
		out[name] = map[string]*savedDomain{}
		for dn, d := range s.domains {
			out[name][dn] = saved(d)
			n++
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	tmp := l.statePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save simulated lab state: %w", err)
	}
	if err := os.Rename(tmp, l.statePath); err != nil {
		return fmt.Errorf("save simulated lab state: %w", err)
	}
	if l.log != nil {
		l.log.Close()
	}
	l.log, err = os.OpenFile(l.statePath+".log", os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("save simulated lab state: %w", err)
	}
	l.logged, l.compactAt = 0, 4*n+1024
	return nil
}

// save records the change of one domain of s (gone when it was
// undefined). Callers hold l.mu.
func (l *Lab) save(s *Site, name string) error {
	if l.statePath == "" || l.log == nil {
		return nil
	}
	c := savedChange{Site: s.name, Name: name}
	if d := s.domains[name]; d != nil {
		c.Domain = saved(d)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := l.log.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("save simulated lab state: %w", err)
	}
	if l.logged++; l.logged >= l.compactAt {
		return l.compact()
	}
	return nil
}

// StatePath is where a run's simulated lab state lives, beside its audit
// database.
func StatePath(db string, runID int64) string {
	return fmt.Sprintf("%s.sim-run-%d.json", db, runID)
}
