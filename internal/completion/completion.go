// Package completion gathers the candidates of repli's shell completion:
// runbook names and files, run ids, the steps of a run waiting for an
// approval, site names and modes. Each candidate is "value" or
// "value\tdescription" (cobra's form), its description on one line. It
// changes nothing and reports no error: what cannot be read completes
// nothing.
package completion

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
	"github.com/repli-dr/repli/store"
)

// Candidate is one value with its description, kept to one line.
func Candidate(value, desc string) string {
	if desc == "" {
		return value
	}
	return value + "\t" + safetext.Printable(desc)
}

// Runbooks completes a runbook argument: bundled names, names in the
// runbook directories, and .yaml/.yml files and directories from where the
// user is typing. dir reports that a candidate is a directory (the shell
// then adds no space, to go on into it).
func Runbooks(dirs []string, toComplete string) (out []string, dir bool) {
	seen := map[string]bool{}
	add := func(name, desc string) {
		if !seen[name] && strings.HasPrefix(name, toComplete) {
			seen[name] = true
			out = append(out, Candidate(name, desc))
		}
	}
	for _, d := range dirs {
		for _, f := range catalog.Files(d) {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".yaml"), ".yml")
			add(name, catalog.Title(f, nil, "in "+textfmt.ShortHome(d)))
		}
	}
	for _, name := range examples.Names() {
		file, src, _ := examples.Source(name)
		add(name, catalog.Title(file, src, "bundled"))
	}
	// Local files: what the shell's file completion would offer, kept to
	// runbooks and directories.
	parent, base := filepath.Split(toComplete)
	from := parent
	if from == "" {
		from = "."
	}
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		switch {
		case e.IsDir():
			add(parent+name+"/", "")
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			add(parent+name, "")
		}
	}
	for _, c := range out {
		if strings.HasSuffix(strings.SplitN(c, "\t", 2)[0], "/") {
			dir = true
		}
	}
	return out, dir
}

// RunIDs completes a run id, newest first, described by runbook, mode and
// date; unfinished keeps only the runs that have not ended (resume,
// approve).
func RunIDs(runs []store.Run, toComplete string, unfinished bool) []string {
	runs = append([]store.Run(nil), runs...)
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID > runs[j].ID })
	var out []string
	for _, r := range runs {
		id := strconv.FormatInt(r.ID, 10)
		if !strings.HasPrefix(id, toComplete) || unfinished && r.EndedAt != nil {
			continue
		}
		state := string(r.Outcome)
		if r.EndedAt == nil {
			state = "not ended"
		}
		out = append(out, Candidate(id, r.Runbook+" · "+r.Mode+" · "+r.StartedAt.Local().Format("2006-01-02 15:04")+" · "+state))
	}
	return out
}

// Steps completes a step of the run with these events: the step waiting
// for an approval, or every step when none is waiting.
func Steps(events []engine.Event, toComplete string) []string {
	rb, prog, err := engine.LoadRun(events)
	if err != nil {
		return nil
	}
	waiting := map[string]bool{}
	if prog.Gate != nil {
		waiting[prog.Gate.Step] = true
	}
	var out []string
	for _, st := range rb.Steps {
		if strings.HasPrefix(st.ID, toComplete) && (len(waiting) == 0 || waiting[st.ID]) {
			desc := st.Title
			if waiting[st.ID] {
				desc = "waiting for approval: " + desc
			}
			out = append(out, Candidate(st.ID, desc))
		}
	}
	return out
}

// Sites completes --site NAME=: the sites of rb, or those of the config
// when rb is nil, each as "NAME=" with its current URI as description.
func Sites(rb *runbooks.Runbook, c *config.Config, toComplete string) []string {
	uris := map[string]string{}
	var names []string
	if rb != nil {
		for _, s := range rb.Sites {
			names = append(names, s.Name)
			uris[s.Name] = s.URI
		}
	} else {
		for _, n := range c.SiteNames() {
			site, _, _ := c.Site(n)
			names = append(names, n)
			uris[n] = strings.Join(site.List(), ", ")
		}
		sort.Strings(names)
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n+"=", toComplete) {
			desc := uris[n]
			if desc == "" {
				desc = "no URI yet"
			}
			out = append(out, Candidate(n+"=", desc))
		}
	}
	return out
}

// Modes completes --mode.
func Modes() []string {
	desc := map[string]string{
		"test":     "a drill: the primary site is there",
		"planned":  "a planned switchover",
		"disaster": "the primary site is lost",
		"failback": "back to the primary site",
	}
	var out []string
	for _, m := range runbooks.Modes {
		out = append(out, Candidate(m, desc[m]))
	}
	return out
}
