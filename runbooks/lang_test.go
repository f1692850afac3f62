package runbooks_test

// The runbook language v1, kind by kind and rule by rule. The tests named
// TestParserRegression… pin parser bugs found while writing these tests and
// fuzzing (fixed in 13b34ae and 414a69a).

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

const langHead = `version: 1
name: lang
vars:
  production: [db-01, app-01]
  front: web-*
  vm: app-02
  dump: /srv/app.sql
  shell_list: [a, b]
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
`

// parseStep parses one step (YAML indented as a list item under steps)
// after langHead and returns it, failing on any error.
func parseStep(t *testing.T, step string) *runbooks.Step {
	t.Helper()
	rb := parseOK(t, langHead+step)
	if len(rb.Steps) != 1 {
		t.Fatalf("%d steps", len(rb.Steps))
	}
	return rb.Steps[0]
}

func parseOK(t *testing.T, src string) *runbooks.Runbook {
	t.Helper()
	rb, diags := runbooks.Parse("lang.yaml", []byte(src))
	if rb == nil {
		t.Fatalf("refused:\n%s\nsource:\n%s", diags, src)
	}
	return rb
}

// parseErrs parses a runbook that must be refused and returns its
// diagnostics as text.
func parseErrs(t *testing.T, src string, overrides map[string]string) string {
	t.Helper()
	rb, diags := runbooks.ParseWith("lang.yaml", []byte(src), overrides)
	if rb != nil || !diags.HasErrors() {
		t.Fatalf("accepted (diagnostics: %v):\n%s", diags, src)
	}
	return diags.Error()
}

func TestLanguageStepKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		step  string
		check func(t *testing.T, st *runbooks.Step)
	}{
		{"manual with checklist and record", `  - id: m
    manual: Call the customer.
    checklist: [Called, Answered]
    record: true
`, func(t *testing.T, st *runbooks.Step) {
			want := &runbooks.Manual{Text: "Call the customer.", Checklist: []string{"Called", "Answered"}, Record: true}
			if st.Kind != runbooks.KindManual || !reflect.DeepEqual(st.Manual, want) {
				t.Errorf("%s %+v", st.Kind, st.Manual)
			}
		}},
		{"manual text from a var", "  - id: m\n    manual: Restore ${vm} from ${dump}.\n", func(t *testing.T, st *runbooks.Step) {
			if st.Manual.Text != "Restore app-02 from /srv/app.sql." || st.Manual.Record || st.Manual.Checklist != nil {
				t.Errorf("%+v", st.Manual)
			}
		}},
		{"check state", "  - id: c\n    check: {site: secondary, domains: [db-01], state: shutoff}\n", func(t *testing.T, st *runbooks.Step) {
			c := st.Check
			if st.Kind != runbooks.KindCheck || c.State != "shutoff" || c.Target.Site != "secondary" ||
				!reflect.DeepEqual(c.Target.Domains, []string{"db-01"}) || c.Timeout != runbooks.DefaultCheckTimeout {
				t.Errorf("%+v", c)
			}
		}},
		{"check agent", "  - id: c\n    check: {site: secondary, domains: all, agent: true, timeout: 10s}\n", func(t *testing.T, st *runbooks.Step) {
			c := st.Check
			if !c.Agent || !c.Target.All || c.Timeout != 10*time.Second || c.State != "" {
				t.Errorf("%+v", c)
			}
		}},
		{"check tcp", "  - id: c\n    check: {tcp: \"db.example:5432\"}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Check.TCP != "db.example:5432" || st.Targets() != nil {
				t.Errorf("%+v targets %v", st.Check, st.Targets())
			}
		}},
		{"check tcp IPv6", "  - id: c\n    check: {tcp: \"[::1]:22\"}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Check.TCP != "[::1]:22" {
				t.Errorf("%+v", st.Check)
			}
		}},
		{"check file and max_age", "  - id: c\n    check: {file: \"${dump}\", max_age: 2d}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Check.File != "/srv/app.sql" || st.Check.MaxAge != 48*time.Hour {
				t.Errorf("%+v", st.Check)
			}
		}},
		{"check command", "  - id: c\n    check: {command: [pg_isready, -h, db]}\n", func(t *testing.T, st *runbooks.Step) {
			if !reflect.DeepEqual(st.Check.Command, []string{"pg_isready", "-h", "db"}) || st.Check.Shell {
				t.Errorf("%+v", st.Check)
			}
		}},
		{"check shell command", "  - id: c\n    check: {command: \"pg_isready | grep ok\", shell: true}\n", func(t *testing.T, st *runbooks.Step) {
			if !reflect.DeepEqual(st.Check.Command, []string{"pg_isready | grep ok"}) || !st.Check.Shell {
				t.Errorf("%+v", st.Check)
			}
		}},
		{"shutdown", "  - id: s\n    shutdown: {site: primary, domains: [web-01, db-01], timeout: 90s, force: true}\n", func(t *testing.T, st *runbooks.Step) {
			want := &runbooks.Shutdown{Target: runbooks.Target{Site: "primary", Domains: []string{"web-01", "db-01"}}, Timeout: 90 * time.Second, Force: true}
			if st.Kind != runbooks.KindShutdown || !reflect.DeepEqual(st.Shutdown, want) {
				t.Errorf("%+v", st.Shutdown)
			}
		}},
		{"shutdown defaults", "  - id: s\n    shutdown: {site: primary, domains: [db-01]}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Shutdown.Timeout != runbooks.DefaultShutdownTimeout || st.Shutdown.Force {
				t.Errorf("%+v", st.Shutdown)
			}
		}},
		{"start with groups", "  - id: s\n    start:\n      site: secondary\n      groups: [[db-01], [app-01, app-02]]\n      max_parallel: 2\n      wait: agent\n      timeout: 3m\n", func(t *testing.T, st *runbooks.Step) {
			s := st.Start
			if st.Kind != runbooks.KindStart || !reflect.DeepEqual(s.Groups, [][]string{{"db-01"}, {"app-01", "app-02"}}) ||
				s.MaxParallel != 2 || s.Wait != "agent" || s.Timeout != 3*time.Minute || s.Site != "secondary" {
				t.Errorf("%+v", s)
			}
			if tg := st.Targets()[0]; !reflect.DeepEqual(tg.Domains, []string{"db-01", "app-01", "app-02"}) {
				t.Errorf("target %+v", tg)
			}
		}},
		{"start with domains: one group each", "  - id: s\n    start: {site: secondary, domains: [db-01, app-01]}\n", func(t *testing.T, st *runbooks.Step) {
			s := st.Start
			if !reflect.DeepEqual(s.Groups, [][]string{{"db-01"}, {"app-01"}}) || s.Wait != "running" || s.MaxParallel != 0 || s.Timeout != runbooks.DefaultStartTimeout {
				t.Errorf("%+v", s)
			}
		}},
		{"start a glob", "  - id: s\n    start: {site: secondary, domains: \"${front}\"}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Start.Glob != "web-*" || st.Start.Groups != nil || !st.Targets()[0].Dynamic() {
				t.Errorf("%+v", st.Start)
			}
		}},
		{"destroy", "  - id: p\n    destroy: {site: primary, domains: \"${production}\"}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindDestroy || !reflect.DeepEqual(*st.Power, runbooks.Target{Site: "primary", Domains: []string{"db-01", "app-01"}}) {
				t.Errorf("%+v", st.Power)
			}
		}},
		{"suspend", "  - id: p\n    suspend: {site: primary, domains: [db-01]}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindSuspend || st.Power.Site != "primary" {
				t.Errorf("%+v", st.Power)
			}
		}},
		{"resume", "  - id: p\n    resume: {site: primary, domains: [db-01]}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindResume || st.Power.Domains[0] != "db-01" {
				t.Errorf("%+v", st.Power)
			}
		}},
		{"undefine", "  - id: p\n    undefine: {site: primary, domains: all}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindUndefine || !st.Power.All {
				t.Errorf("%+v", st.Power)
			}
		}},
		{"define from one xml file", "  - id: d\n    define: {site: secondary, xml: domains/db-01.xml}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindDefine || !reflect.DeepEqual(st.Define, &runbooks.Define{Site: "secondary", XML: []string{"domains/db-01.xml"}}) {
				t.Errorf("%+v", st.Define)
			}
		}},
		{"define from xml files", "  - id: d\n    define: {site: secondary, xml: [a.xml, b.xml]}\n", func(t *testing.T, st *runbooks.Step) {
			if !reflect.DeepEqual(st.Define.XML, []string{"a.xml", "b.xml"}) {
				t.Errorf("%+v", st.Define)
			}
		}},
		{"define by copy_from", "  - id: d\n    define: {site: secondary, copy_from: primary, domains: [\"${vm}\"]}\n", func(t *testing.T, st *runbooks.Step) {
			want := &runbooks.Define{Site: "secondary", CopyFrom: "primary", Domains: []string{"app-02"}}
			if !reflect.DeepEqual(st.Define, want) || !reflect.DeepEqual(st.Sites(), []string{"secondary", "primary"}) {
				t.Errorf("%+v sites %v", st.Define, st.Sites())
			}
		}},
		{"snapshot create", "  - id: n\n    snapshot: {site: secondary, domains: [db-01], name: before}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindSnapshot || st.Snapshot.Action != runbooks.SnapshotCreate || st.Snapshot.Name != "before" {
				t.Errorf("%+v", st.Snapshot)
			}
		}},
		{"snapshot revert", "  - id: n\n    snapshot: {site: secondary, domains: [db-01], name: before, action: revert}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Snapshot.Action != runbooks.SnapshotRevert {
				t.Errorf("%+v", st.Snapshot)
			}
		}},
		{"snapshot delete", "  - id: n\n    snapshot: {site: secondary, domains: [db-01], name: before, action: delete}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Snapshot.Action != runbooks.SnapshotDelete {
				t.Errorf("%+v", st.Snapshot)
			}
		}},
		{"autostart on", "  - id: a\n    autostart: {site: secondary, domains: [db-01], enabled: true}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindAutostart || !st.Autostart.Enabled {
				t.Errorf("%+v", st.Autostart)
			}
		}},
		{"autostart off", "  - id: a\n    autostart: {site: secondary, domains: [db-01], enabled: false}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Autostart.Enabled {
				t.Errorf("%+v", st.Autostart)
			}
		}},
		{"exec with everything", `  - id: x
    exec:
      command: [pg_restore, -d, app, "${dump}"]
      env: {PGHOST: db, PGUSER: "${vm}"}
      secret_env: {PGPASSWORD: /run/keys/pg}
      dir: /srv
      redact: ['password=\S+', 'token: \w+']
      timeout: 45m
`, func(t *testing.T, st *runbooks.Step) {
			want := &runbooks.Exec{
				Command: []string{"pg_restore", "-d", "app", "/srv/app.sql"}, Timeout: 45 * time.Minute,
				Env: map[string]string{"PGHOST": "db", "PGUSER": "app-02"}, SecretEnv: map[string]string{"PGPASSWORD": "/run/keys/pg"},
				Dir: "/srv", Redact: []string{`password=\S+`, `token: \w+`},
			}
			if st.Kind != runbooks.KindExec || !reflect.DeepEqual(st.Exec, want) {
				t.Errorf("got  %+v\nwant %+v", st.Exec, want)
			}
		}},
		{"exec shell", "  - id: x\n    exec: {command: \"echo $HOME | wc -c\", shell: true}\n", func(t *testing.T, st *runbooks.Step) {
			if !st.Exec.Shell || !reflect.DeepEqual(st.Exec.Command, []string{"echo $HOME | wc -c"}) || st.Exec.Timeout != runbooks.DefaultExecTimeout {
				t.Errorf("%+v", st.Exec)
			}
		}},
		{"exec command from a list var", "  - id: x\n    exec:\n      command: ${shell_list}\n", func(t *testing.T, st *runbooks.Step) {
			if !reflect.DeepEqual(st.Exec.Command, []string{"a", "b"}) {
				t.Errorf("%+v", st.Exec)
			}
		}},
		{"exec $${ is a literal ${", "  - id: x\n    exec: {command: [echo, \"$${HOME}\"]}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Exec.Command[1] != "${HOME}" {
				t.Errorf("%q", st.Exec.Command)
			}
		}},
		{"wait a duration", "  - id: w\n    wait: 90s\n", func(t *testing.T, st *runbooks.Step) {
			if st.Kind != runbooks.KindWait || st.Wait.Duration != 90*time.Second || st.Wait.Until != nil {
				t.Errorf("%+v", st.Wait)
			}
		}},
		{"wait duration key", "  - id: w\n    wait: {duration: 1h30m}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Wait.Duration != 90*time.Minute {
				t.Errorf("%+v", st.Wait)
			}
		}},
		{"wait until a check, with a timeout", "  - id: w\n    wait:\n      until: {site: secondary, domains: [db-01], state: running}\n      timeout: 10m\n", func(t *testing.T, st *runbooks.Step) {
			w := st.Wait
			if w.Until == nil || w.Until.State != "running" || w.Timeout != 10*time.Minute || w.Duration != 0 {
				t.Errorf("%+v", w)
			}
			if tg := st.Targets(); len(tg) != 1 || tg[0].Site != "secondary" {
				t.Errorf("targets %v", tg)
			}
		}},
		{"wait until tcp, default timeout", "  - id: w\n    wait: {until: {tcp: \"db:5432\"}}\n", func(t *testing.T, st *runbooks.Step) {
			if st.Wait.Until.TCP != "db:5432" || st.Wait.Timeout != runbooks.DefaultWaitTimeout || st.Targets() != nil {
				t.Errorf("%+v", st.Wait)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, parseStep(t, tt.step))
		})
	}
}

func TestLanguageStepOptions(t *testing.T) {
	t.Parallel()
	st := parseStep(t, `  - id: opts
    title: All the options
    description: Every common key.
    gate: typed
    approvers: 3
    on_failure: continue
    retries: 4
    retry_delay: 10s
    timeout: 1h
    modes: [test, planned]
    skip_in: [failback]
    check: {tcp: "db:5432"}
`)
	if st.ID != "opts" || st.Title != "All the options" || st.Description != "Every common key." ||
		st.Gate != runbooks.GateTyped || st.Approvers != 3 || st.OnFailure != runbooks.OnFailureContinue ||
		st.Retries != 4 || st.RetryDelay != 10*time.Second || st.Timeout != time.Hour ||
		!reflect.DeepEqual(st.Modes, []string{"test", "planned"}) || !reflect.DeepEqual(st.SkipIn, []string{"failback"}) {
		t.Errorf("%+v", st)
	}
	st = parseStep(t, "  - id: plain\n    check: {tcp: \"db:5432\"}\n")
	if st.Title != "plain" || st.Gate != runbooks.GateNone || st.Approvers != 1 || st.OnFailure != "" ||
		st.Retries != 0 || st.RetryDelay != runbooks.DefaultRetryDelay || st.Timeout != 0 || st.Modes != nil || st.SkipIn != nil {
		t.Errorf("defaults: %+v", st)
	}
	if st.Pos != (runbooks.Pos{Line: 13, Col: 5}) {
		t.Errorf("step at %s, want 13:5", st.Pos)
	}
}

func TestLanguageTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		domains string
		want    runbooks.Target
	}{
		{"[db-01, app-01]", runbooks.Target{Site: "primary", Domains: []string{"db-01", "app-01"}}},
		{"\n        - db-01\n        - app-01", runbooks.Target{Site: "primary", Domains: []string{"db-01", "app-01"}}},
		{`"web-*"`, runbooks.Target{Site: "primary", Glob: "web-*"}},
		{`"db-0?"`, runbooks.Target{Site: "primary", Glob: "db-0?"}},
		{`"app-[12]"`, runbooks.Target{Site: "primary", Glob: "app-[12]"}},
		{"all", runbooks.Target{Site: "primary", All: true}},
		{"${production}", runbooks.Target{Site: "primary", Domains: []string{"db-01", "app-01"}}},
		{`"${front}"`, runbooks.Target{Site: "primary", Glob: "web-*"}},
		{`["${vm}", db-01]`, runbooks.Target{Site: "primary", Domains: []string{"app-02", "db-01"}}},
	}
	for _, tt := range tests {
		t.Run(tt.domains, func(t *testing.T) {
			t.Parallel()
			st := parseStep(t, "  - id: t\n    suspend:\n      site: primary\n      domains: "+tt.domains+"\n")
			if got := st.Targets(); len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("domains: %s → %+v, want %+v", tt.domains, got, tt.want)
			}
			if dyn := tt.want.Glob != "" || tt.want.All; st.Targets()[0].Dynamic() != dyn {
				t.Errorf("Dynamic() = %v", !dyn)
			}
		})
	}
}

func TestLanguageVarOverrides(t *testing.T) {
	t.Parallel()
	src := langHead + `  - id: a
    title: Recover ${vm}
    suspend: {site: primary, domains: ["${vm}"]}
  - id: b
    destroy: {site: primary, domains: "${production}"}
  - id: c
    shutdown: {site: primary, domains: "${front}"}
`
	rb, diags := runbooks.ParseWith("lang.yaml", []byte(src), map[string]string{
		"vm": "app-09", "production": " db-07 , app-07,, ", "front": "all",
	})
	if rb == nil {
		t.Fatal(diags)
	}
	if got := rb.Steps[0]; got.Title != "Recover app-09" || got.Power.Domains[0] != "app-09" {
		t.Errorf("string var: %q %v", got.Title, got.Power.Domains)
	}
	if got := rb.Steps[1].Power.Domains; !reflect.DeepEqual(got, []string{"db-07", "app-07"}) {
		t.Errorf("list var from a,b: %q", got)
	}
	if !rb.Steps[2].Shutdown.Target.All {
		t.Errorf("--var front=all: %+v", rb.Steps[2].Shutdown.Target)
	}
	if v := rb.Vars["production"]; !v.IsList || v.Pos != (runbooks.Pos{Line: 4, Col: 3}) {
		t.Errorf("var %+v", v)
	}

	// An override for a var the runbook does not have is a mistake: the
	// operator meant another name, and would otherwise run with the default.
	got := parseErrs(t, src, map[string]string{"vn": "app-09"})
	if want := `lang.yaml:1:1: --var vn: the runbook has no var "vn" — did you mean "vm"?`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// An override that empties a list var leaves the step without domains.
	got = parseErrs(t, src, map[string]string{"production": " , "})
	if !strings.Contains(got, `lang.yaml:17:39: step b domains is empty (var production has no entries)`) {
		t.Errorf("empty list override: %s", got)
	}
}

// TestLanguageModes: modes and skip_in choose where a step runs; in disaster
// mode the primary-role site is lost, so a step touching it runs only if it
// lists disaster in its modes.
func TestLanguageModes(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: modes
sites:
  lyon: {uri: sim://lyon, role: secondary}
  paris: {uri: sim://paris, role: primary}
steps:
  - id: note
    manual: Nothing to do with sites.
  - id: stop-paris
    shutdown: {site: paris, domains: [a]}
  - id: fence-paris
    modes: [disaster]
    destroy: {site: paris, domains: [a]}
  - id: start-lyon
    start: {site: lyon, domains: [a]}
  - id: copy-from-paris
    define: {site: lyon, copy_from: paris, domains: [a]}
  - id: drill-only
    modes: [test]
    manual: Only in drills.
  - id: not-in-failback
    skip_in: [failback, planned]
    check: {site: lyon, domains: [a], state: running}
  - id: wait-paris
    modes: [disaster, test]
    wait: {until: {site: paris, domains: [a], state: shutoff}}
`
	rb := parseOK(t, src)
	if rb.Primary().Name != "paris" {
		t.Fatalf("primary %s", rb.Primary().Name)
	}
	lost := "the primary site paris is assumed lost in disaster mode"
	want := map[string]map[string]string{ // step → mode → skip reason ("" runs)
		"note":            {"test": "", "planned": "", "disaster": "", "failback": ""},
		"stop-paris":      {"test": "", "planned": "", "disaster": lost, "failback": ""},
		"fence-paris":     {"test": "runs only in disaster", "planned": "runs only in disaster", "disaster": "", "failback": "runs only in disaster"},
		"start-lyon":      {"test": "", "planned": "", "disaster": "", "failback": ""},
		"copy-from-paris": {"test": "", "planned": "", "disaster": lost, "failback": ""},
		"drill-only":      {"test": "", "planned": "runs only in test", "disaster": "runs only in test", "failback": "runs only in test"},
		"not-in-failback": {"test": "", "planned": "skip_in planned", "disaster": "", "failback": "skip_in failback"},
		"wait-paris":      {"test": "", "planned": "runs only in disaster, test", "disaster": "", "failback": "runs only in disaster, test"},
	}
	for _, st := range rb.Steps {
		for _, mode := range runbooks.Modes {
			runs, why := st.RunsIn(rb, mode)
			w := want[st.ID][mode]
			if runs != (w == "") || why != w {
				t.Errorf("%s in %s mode: runs %v (%q), want %q", st.ID, mode, runs, why, w)
			}
		}
	}

	// Without roles, the site called primary is the primary one; else the first.
	rb = parseOK(t, "version: 1\nname: r\nsites:\n  b: {uri: x}\n  primary: {uri: y}\nsteps:\n  - {id: a, manual: hi}\n")
	if rb.Primary().Name != "primary" || rb.Site("b").Role != runbooks.RoleSecondary {
		t.Errorf("roles %v %v", rb.Primary().Name, rb.Site("b").Role)
	}
	rb = parseOK(t, "version: 1\nname: r\nsites:\n  b: {uri: x}\n  c: {uri: y}\nsteps:\n  - {id: a, manual: hi}\n")
	if rb.Primary().Name != "b" {
		t.Errorf("primary %v", rb.Primary().Name)
	}
}

// TestLanguageGates: what stops, removes or rolls back domains waits for a
// person unless the runbook explicitly says gate: none, which is allowed but
// warned about.
func TestLanguageGates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		gate runbooks.Gate
	}{
		{"shutdown: {site: primary, domains: [a]}", runbooks.GateConfirm},
		{"destroy: {site: primary, domains: [a]}", runbooks.GateConfirm},
		{"undefine: {site: primary, domains: [a]}", runbooks.GateConfirm},
		{"snapshot: {site: primary, domains: [a], name: s, action: revert}", runbooks.GateConfirm},
		{"snapshot: {site: primary, domains: [a], name: s, action: delete}", runbooks.GateConfirm},
		{"snapshot: {site: primary, domains: [a], name: s}", runbooks.GateNone},
		{"start: {site: primary, domains: [a]}", runbooks.GateNone},
		{"suspend: {site: primary, domains: [a]}", runbooks.GateNone},
		{"resume: {site: primary, domains: [a]}", runbooks.GateNone},
		{"define: {site: primary, xml: a.xml}", runbooks.GateNone},
		{"autostart: {site: primary, domains: [a], enabled: false}", runbooks.GateNone},
		{"check: {tcp: \"a:1\"}", runbooks.GateNone},
		{"exec: {command: [true]}", runbooks.GateNone},
		{"wait: 1s", runbooks.GateNone},
		{"manual: hi", runbooks.GateNone},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			st := parseStep(t, "  - id: g\n    "+tt.body+"\n")
			if st.Gate != tt.gate {
				t.Errorf("default gate %s, want %s", st.Gate, tt.gate)
			}
			if st.Destructive() != (tt.gate == runbooks.GateConfirm) {
				t.Errorf("Destructive() = %v", st.Destructive())
			}
			if st = parseStep(t, "  - id: g\n    gate: typed\n    "+tt.body+"\n"); st.Gate != runbooks.GateTyped {
				t.Errorf("gate: typed gave %s", st.Gate)
			}
		})
	}

	rb, diags := runbooks.Parse("lang.yaml", []byte(langHead+"  - id: g\n    gate: none\n    destroy: {site: primary, domains: [a]}\n"))
	if rb == nil {
		t.Fatalf("gate: none on a destructive step must be a warning, not an error:\n%s", diags)
	}
	if len(diags) != 1 || diags[0].Severity != runbooks.SevWarning || rb.Steps[0].Gate != runbooks.GateNone ||
		diags[0].String() != "lang.yaml:14:11: warning: step g forces domains off without asking anyone (gate: none)" {
		t.Errorf("diagnostics %v", diags)
	}
}

func TestLanguageApprovers(t *testing.T) {
	t.Parallel()
	if st := parseStep(t, "  - id: a\n    approvers: 2\n    shutdown: {site: primary, domains: [a]}\n"); st.Approvers != 2 || st.Gate != runbooks.GateConfirm {
		t.Errorf("approvers on a destructive step use its default gate: %d %s", st.Approvers, st.Gate)
	}
	if st := parseStep(t, "  - id: a\n    gate: typed\n    approvers: 5\n    manual: hi\n"); st.Approvers != 5 {
		t.Errorf("approvers %d", st.Approvers)
	}
	for _, tt := range []struct{ step, want string }{
		{"  - id: a\n    approvers: 2\n    start: {site: primary, domains: [a]}\n", "lang.yaml:14:5: step a needs a gate (confirm or typed) for its 2 approvers"},
		{"  - id: a\n    gate: none\n    approvers: 2\n    exec: {command: [true]}\n", "lang.yaml:15:5: step a needs a gate (confirm or typed) for its 2 approvers"},
		{"  - id: a\n    gate: confirm\n    approvers: 6\n    manual: hi\n", "lang.yaml:15:16: step a approvers must be between 1 and 5, not 6"},
		{"  - id: a\n    gate: confirm\n    approvers: 0\n    manual: hi\n", "lang.yaml:15:16: step a approvers must be between 1 and 5, not 0"},
	} {
		if got := parseErrs(t, langHead+tt.step, nil); !strings.Contains(got, tt.want) {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestLanguageDurations(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "2m": 2 * time.Minute, "4h": 4 * time.Hour, "1h30m": 90 * time.Minute,
		"2d": 48 * time.Hour, "500ms": 500 * time.Millisecond, " 5m ": 5 * time.Minute,
	} {
		if got, err := runbooks.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0s", "-5m", "4 hours", "soon", "0d", "3650d", "1d12h", "5"} {
		if got, err := runbooks.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", in, got)
		}
	}
}

// TestLanguagePositions: every problem is reported at the line:column of
// the value at fault, even deep in a step.
func TestLanguagePositions(t *testing.T) {
	t.Parallel()
	src := langHead + `  - id: a
    start:
      site: secondary
      groups:
        - [db-01]
        - [app-01, db-01]
      wait: agnet
  - id: b
    exec:
      command: [x]
      redact: ["(unclosed"]
`
	got := parseErrs(t, src, nil)
	for _, want := range []string{
		`lang.yaml:18:20: step a names "db-01" twice (first at 17:12)`,
		`lang.yaml:19:13: step a: wait must be running or agent, not "agnet" — did you mean "agent"?`,
		"lang.yaml:23:16: step b: redact `(unclosed` is not a valid regular expression: error parsing regexp: missing closing ): `(unclosed`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing\n%s\nin\n%s", want, got)
		}
	}
}

// TestParserRegressionVarsInRunbookHeader: vars were read after name,
// title, description, rto and rpo, so a var used there was reported as
// unknown although it was defined.
func TestParserRegressionVarsInRunbookHeader(t *testing.T) {
	t.Parallel()
	src := "version: 1\nname: v\ntitle: Recover ${customer}\nrto: ${rto}\nvars:\n  customer: acme\n  rto: 4h\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"
	rb, diags := runbooks.Parse("lang.yaml", []byte(src))
	if rb == nil {
		t.Fatalf("a defined var is refused in the title and rto:\n%s", diags)
	}
	if rb.Title != "Recover acme" || rb.RTO != 4*time.Hour {
		t.Errorf("title %q rto %s", rb.Title, rb.RTO)
	}
}

// parseTimes parses the same input many times and fails if the answers
// differ: Go randomises map iteration, so a diagnostic built by ranging over
// a map comes out in a different order or wording from run to run.
func parseTimes(t *testing.T, src string, overrides map[string]string) {
	t.Helper()
	_, first := runbooks.ParseWith("lang.yaml", []byte(src), overrides)
	for range 50 {
		if _, d := runbooks.ParseWith("lang.yaml", []byte(src), overrides); d.Error() != first.Error() {
			t.Fatalf("the same runbook gave two answers:\n%s\n----\n%s", first, d)
		}
	}
}

// TestParserRegressionUnknownVarOverridesOrder: unknown --var names, all
// reported at 1:1, came out in map order.
func TestParserRegressionUnknownVarOverridesOrder(t *testing.T) {
	t.Parallel()
	parseTimes(t, langHead+"  - {id: a, manual: hi}\n", map[string]string{"vn": "x", "prod": "y", "frnt": "z"})
}

// TestParserRegressionSuggestionTies: of equally close var names, "did you
// mean" named the first in map order, a different one from run to run.
func TestParserRegressionSuggestionTies(t *testing.T) {
	t.Parallel()
	parseTimes(t, "version: 1\nname: s\nvars: {ab: x, ac: y, ae: z, af: w}\nsites:\n  p: {uri: sim://p}\nsteps:\n  - {id: a, manual: \"${ad}\"}\n", nil)
}

// TestParserRegressionSecretEnvOrder: names set in both env and secret_env
// were reported in map order, all at the secret_env key.
func TestParserRegressionSecretEnvOrder(t *testing.T) {
	t.Parallel()
	parseTimes(t, langHead+"  - id: x\n    exec:\n      command: [x]\n      env: {A: '1', B: '2', C: '3'}\n      secret_env: {A: f, B: f, C: f}\n", nil)
}

// TestParserRegressionShellWithListVar: command: ${list} with shell: true
// was accepted whatever the list's length, and the engine then ran only
// its first entry with sh -c.
func TestParserRegressionShellWithListVar(t *testing.T) {
	t.Parallel()
	got := parseErrs(t, langHead+"  - id: x\n    exec:\n      command: ${shell_list}\n      shell: true\n", nil)
	if !strings.Contains(got, "with shell: true, command is one line of shell") {
		t.Errorf("got %s", got)
	}
}

// TestParserRegressionCheckKeysIgnored: a state or agent check silently
// ignored shell and max_age, and a tcp or command check max_age: the author
// believed something was checked that was not.
func TestParserRegressionCheckKeysIgnored(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"check: {site: primary, domains: [a], state: running, max_age: 1h}",
		"check: {site: primary, domains: [a], agent: true, shell: true}",
		"check: {tcp: \"db:5432\", max_age: 1h}",
	} {
		if rb, _ := runbooks.Parse("lang.yaml", []byte(langHead+"  - id: c\n    "+body+"\n")); rb != nil {
			t.Errorf("accepted %s", body)
		}
	}
}

// TestParserRegressionEmptyDuration: an empty duration was taken as no
// value, so rto: "" ran with no RTO target and wait: {duration: ""} waited
// for nothing.
func TestParserRegressionEmptyDuration(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"version: 1\nname: d\nrto: \"\"\nsites:\n  p: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n",
		langHead + "  - id: w\n    wait: {duration: \"\"}\n",
		langHead + "  - id: s\n    shutdown: {site: primary, domains: [a], timeout: \"\"}\n",
	} {
		if rb, _ := runbooks.Parse("lang.yaml", []byte(src)); rb != nil {
			t.Errorf("accepted an empty duration:\n%s", src)
		}
	}
}

// TestParserRegressionSyntaxErrorLine: yaml.v3 gives its parser errors the
// 0-based line of the construct it was parsing (an unclosed { on line 4
// came out as "line 3"), so the message pointed at the line above.
func TestParserRegressionSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	got := parseErrs(t, "version: 1\nname: syntax\nsites:\n  primary: {uri: sim://primary\nsteps: []\n", nil)
	if !strings.HasPrefix(got, "lang.yaml:4:") {
		t.Errorf("the unclosed { is on line 4; got %s", got)
	}
}

// TestParserRegressionLongTextTwoMessages: a manual text over 64 KiB gave a
// second, wrong message ("manual needs the instruction for the operator").
func TestParserRegressionLongTextTwoMessages(t *testing.T) {
	t.Parallel()
	got := parseErrs(t, langHead+"  - id: m\n    manual: "+strings.Repeat("x", 70000)+"\n", nil)
	if strings.Count(got, "\n") != 0 {
		t.Errorf("one mistake, several messages:\n%s", got)
	}
}

// TestParserRegressionSyntaxErrorPastEnd: at the end of a file without a
// final newline, yaml.v3 puts the stream end on the next line, and the +1
// for "did not find expected …" errors pointed one line past the end of the
// file ("{" was reported at 2:1).
func TestParserRegressionSyntaxErrorPastEnd(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"{", "- [", "version: 1\nname: x\nsteps: [a,"} {
		_, diags := runbooks.Parse("lang.yaml", []byte(src))
		last := strings.Count(src, "\n") + 1
		for _, d := range diags {
			if d.Pos.Line > last {
				t.Errorf("%q: %s points past the last line (%d)", src, d, last)
			}
		}
	}
}

// TestSourceHashIsTheFilesHash: the SHA-256 recorded with a run is the
// file's own, whatever its line endings, so sha256sum FILE matches it.
func TestSourceHashIsTheFilesHash(t *testing.T) {
	t.Parallel()
	src := []byte("version: 1\r\nname: crlf\r\nsites:\r\n  p: {uri: sim://p}\r\nsteps:\r\n  - {id: a, manual: hi}\r\n")
	rb, diags := runbooks.Parse("crlf.yaml", src)
	if rb == nil {
		t.Fatal(diags)
	}
	sum := sha256.Sum256(src)
	if rb.SHA256() != hex.EncodeToString(sum[:]) {
		t.Errorf("recorded hash %s is not the file's %x", rb.SHA256(), sum)
	}
}

// TestTabInsideBlockTextIsFine: a tab inside a block scalar's text is legal
// YAML; only a tab used as indentation is refused.
func TestTabInsideBlockTextIsFine(t *testing.T) {
	t.Parallel()
	src := "version: 1\nname: t\ndescription: |\n  a\ttab inside text\nsites:\n  p: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"
	if rb, diags := runbooks.Parse("tab.yaml", []byte(src)); rb == nil {
		t.Fatalf("refused: %v", diags)
	}
}
