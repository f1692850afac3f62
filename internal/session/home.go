package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// recentRuns is how many ended runs the home screen lists.
const recentRuns = 8

// Home gathers the home screen: the trail's runs (read-only; a trail
// that does not exist yet is empty) and every runbook repli can find.
func Home(ctx context.Context, path string, dirs []string) ui.HomeData {
	data := ui.HomeData{DB: textfmt.ShortHome(path), Demo: true}
	var runs []store.Run
	if _, err := os.Stat(path); err == nil {
		if s, err := store.OpenReadOnly(ctx, path); err == nil {
			runs, _ = s.Runs(ctx)
			for _, r := range runs {
				if r.Outcome == engine.OutcomeRunning {
					hr := homeRun(r)
					hr.Standing = string(StandingOf(ctx, s, path, r.ID))
					data.Stopped = append(data.Stopped, hr)
				}
			}
			s.Close()
		}
	}
	for _, r := range runs {
		hr := homeRun(r)
		switch {
		case r.Outcome == engine.OutcomeRunning:
		case len(data.Recent) < recentRuns:
			data.Recent = append(data.Recent, hr)
		}
	}
	data.Runbooks = findRunbooks(runs, dirs)
	return data
}

func homeRun(r store.Run) ui.HomeRun {
	hr := ui.HomeRun{ID: r.ID, Runbook: r.Runbook, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
		Started: r.StartedAt, Outcome: r.Outcome, RTOTarget: r.RTOTarget}
	if r.RTOAchieved != nil {
		hr.RTO = *r.RTOAchieved
	}
	return hr
}

// findRunbooks lists the runbooks repli can start, as catalog.Find finds
// them: the runbook directories dirs, then the bundled ones; a name found twice is shown once, where a run by
// name would take it. Runs are newest first: the first run of a runbook's
// name is its last.
func findRunbooks(runs []store.Run, dirs []string) []ui.HomeRunbook {
	var out []ui.HomeRunbook
	seen := map[string]bool{}
	add := func(arg, from, file string, src []byte) {
		rb, diags := runbooks.Parse(file, src)
		h := ui.HomeRunbook{Arg: arg, From: from, Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))}
		if rb == nil || diags.HasErrors() {
			h.Broken = "does not validate; repli validate " + file + " says why"
		} else {
			h.Name, h.Title, h.Sites, h.RTO = rb.Name, rb.Title, rb.SiteNames(), rb.RTO
		}
		if seen[h.Name] {
			return
		}
		seen[h.Name] = true
		for _, r := range runs {
			if r.Runbook == h.Name && r.Outcome != engine.OutcomeRunning {
				hr := homeRun(r)
				h.Last = &hr
				break
			}
		}
		out = append(out, h)
	}
	for _, dir := range dirs {
		for _, pat := range []string{"*.yaml", "*.yml"} {
			files, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, f := range files {
				if src, err := catalog.ReadFile(f); err == nil {
					add(f, textfmt.ShortHome(dir), f, src)
				}
			}
		}
	}
	for _, name := range examples.Names() {
		if file, src, err := examples.Source(name); err == nil {
			add(name, "bundled", file, src)
		}
	}
	return out
}
