// Package plan is what repli plan shows: the resolved plan of a runbook in
// a mode (Build), its stable JSON shape, and its text laid out for an
// 80-column terminal (Doc.Write). It contacts no site.
package plan

import (
	"sort"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// Doc is the resolved plan, and the JSON shape of repli plan --json. Its
// keys are a contract for scripts: add, never rename.
type Doc struct {
	Runbook  string   `json:"runbook"`
	Title    string   `json:"title"`
	File     string   `json:"file"`
	SHA256   string   `json:"sha256"`
	Mode     string   `json:"mode"`
	RTOS     *float64 `json:"rto_s"`
	RPOS     *float64 `json:"rpo_s"`
	RTOClock *Clock   `json:"rto_clock"`
	Vars     []Var    `json:"vars"`
	Sites    []Site   `json:"sites"`
	Steps    []Step   `json:"steps"`

	rb *runbooks.Runbook
}

// Clock names the steps that start and stop the recovery clock.
type Clock struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

type Var struct {
	Name       string   `json:"name"`
	Value      string   `json:"value"`
	List       []string `json:"list"`
	IsList     bool     `json:"is_list"`
	Overridden bool     `json:"overridden"`
}

type Site struct {
	Name string   `json:"name"`
	URI  string   `json:"uri"`
	URIs []string `json:"uris"`
	Role string   `json:"role"`
	// MaxPerHost is the site's bound on actions at once on one host (0:
	// none but each step's max_parallel).
	MaxPerHost int `json:"max_per_host,omitempty"`
}

type Target struct {
	Site    string   `json:"site"`
	Domains []string `json:"domains"`
	Glob    string   `json:"glob"`
	All     bool     `json:"all"`
	// Dynamic targets (a glob, all) are matched against the site's live
	// domain list when the step runs.
	Dynamic bool `json:"resolved_at_run_time"`
}

type Step struct {
	Index            int        `json:"index"`
	ID               string     `json:"id"`
	Title            string     `json:"title"`
	Kind             string     `json:"kind"`
	Action           string     `json:"action"`
	Gate             string     `json:"gate"`
	Approvers        int        `json:"approvers"`
	Typed            string     `json:"typed"`
	WaitsForOperator bool       `json:"waits_for_operator"`
	Destructive      bool       `json:"destructive"`
	Runs             bool       `json:"runs"`
	SkipReason       string     `json:"skip_reason"`
	Targets          []Target   `json:"targets"`
	Groups           [][]string `json:"groups"`
	MaxParallel      int        `json:"max_parallel"`
	// MaxPerHost is the bound of the step's site on actions at once on
	// one of its hosts, given only for a step that acts on several
	// domains at once.
	MaxPerHost   int      `json:"max_per_host,omitempty"`
	OnFailure    string   `json:"on_failure"`
	Retries      int      `json:"retries"`
	RetryDelayS  float64  `json:"retry_delay_s"`
	TimeoutS     float64  `json:"timeout_s"`
	KindTimeoutS float64  `json:"kind_timeout_s"`
	Modes        []string `json:"modes"`
	SkipIn       []string `json:"skip_in"`
	RTOMark      string   `json:"rto_mark"`

	st *runbooks.Step
}

func seconds(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

// Build resolves the plan of a runbook in a mode: overrides are the vars
// given on the command line (they are marked as such).
func Build(rb *runbooks.Runbook, mode string, overrides map[string]string) *Doc {
	p := &Doc{
		Runbook: rb.Name, Title: rb.Title, File: rb.File, SHA256: rb.SHA256(), Mode: mode,
		RTOS: seconds(rb.RTO), RPOS: seconds(rb.RPO),
		Vars: []Var{}, Sites: []Site{}, Steps: []Step{}, rb: rb,
	}
	names := make([]string, 0, len(rb.Vars))
	for n := range rb.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := rb.Vars[n]
		_, over := overrides[n]
		pv := Var{Name: n, Value: v.Value, List: nonNil(v.List), IsList: v.IsList, Overridden: over}
		if v.IsList {
			pv.Value = ""
		}
		p.Vars = append(p.Vars, pv)
	}
	for _, s := range rb.Sites {
		p.Sites = append(p.Sites, Site{Name: s.Name, URI: engine.RedactURI(s.URI), URIs: nonNil(engine.RedactURIs(s.URIs)), Role: string(s.Role), MaxPerHost: s.MaxPerHost})
	}
	var clock Clock
	for i, st := range rb.Steps {
		runs, why := st.RunsIn(rb, mode)
		ps := Step{
			Index: i + 1, ID: st.ID, Title: st.Title, Kind: string(st.Kind), Action: st.Describe(),
			Gate: string(st.Gate), Approvers: st.Approvers,
			WaitsForOperator: st.Gate != runbooks.GateNone || st.Kind == runbooks.KindManual,
			Destructive:      st.Destructive(), Runs: runs, SkipReason: why,
			Targets: []Target{}, Groups: [][]string{},
			OnFailure: string(st.OnFailure), Retries: st.Retries, RetryDelayS: st.RetryDelay.Seconds(),
			TimeoutS: st.Timeout.Seconds(), KindTimeoutS: st.KindTimeout().Seconds(),
			Modes: nonNil(st.Modes), SkipIn: nonNil(st.SkipIn), RTOMark: string(st.RTO), st: st,
		}
		if st.Gate == runbooks.GateTyped {
			ps.Typed = engine.GateExpect(rb, st)
		}
		for _, t := range st.Targets() {
			ps.Targets = append(ps.Targets, Target{Site: t.Site, Domains: nonNil(t.Domains), Glob: t.Glob, All: t.All, Dynamic: t.Dynamic()})
		}
		if st.Kind == runbooks.KindStart {
			ps.Groups = append(ps.Groups, st.Start.Groups...)
			ps.MaxParallel = st.Start.MaxParallel
			if st.Start.MaxParallel > 1 || (st.Start.MaxParallel == 0 && anyGroupOfSeveral(st.Start.Groups)) {
				ps.MaxPerHost = siteCap(rb, st.Start.Site)
			}
		}
		if st.Kind == runbooks.KindShutdown {
			ps.MaxParallel = st.Shutdown.MaxParallel
			if st.Shutdown.MaxParallel > 1 {
				ps.MaxPerHost = siteCap(rb, st.Shutdown.Target.Site)
			}
		}
		switch st.RTO {
		case runbooks.RTOStart:
			clock.Start = st.ID
		case runbooks.RTOStop:
			clock.Stop = st.ID
		}
		p.Steps = append(p.Steps, ps)
	}
	if clock.Start != "" {
		p.RTOClock = &clock
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// anyGroupOfSeveral tells whether a start step without max_parallel starts
// several domains at once.
func anyGroupOfSeveral(groups [][]string) bool {
	for _, g := range groups {
		if len(g) > 1 {
			return true
		}
	}
	return false
}

// siteCap is a site's max_per_host, 0 when it has none (or no such site).
func siteCap(rb *runbooks.Runbook, site string) int {
	if s := rb.Site(site); s != nil {
		return s.MaxPerHost
	}
	return 0
}
