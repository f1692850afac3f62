package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// planOut runs repli plan in-process, from the repository root's point of
// view, and returns its stdout and the exit code it maps to.
func planOut(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"plan"}, args...))
	err := root.ExecuteContext(context.Background())
	code := exitOK
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		code = exitUsage
	}
	return out.String(), code
}

func planJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, code := planOut(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("repli plan %v --json: exit %d", args, code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return doc
}

func planSteps(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, s := range doc["steps"].([]any) {
		st := s.(map[string]any)
		out[st["id"].(string)] = st
	}
	return out
}

// The reference drill is kept as is (its comment says so), which makes it
// a stable fixture for the exact text of a plan.
const referenceDisasterPlan = `reference-drill: Annual PRA test — switch production to the secondary site
  file     ../../testdata/runbooks/good/reference-drill.yaml
  sha256   e15a1016bb10aa6f48cc15b5d346ebc152501460b763aa8264ed0f41c99898d8
  mode     disaster: 5 of 6 steps run, 1 skipped
  RTO      4h target; the clock runs from the start of step 3 stop-primary to
           the end of step 6 verify-users; stop-primary is skipped in disaster
           mode, and the clock starts where it would have run
  failure  a step that fails after its retries asks what to do (with
           --auto-approve: aborts the run), unless it says otherwise

Sites
  primary    primary    sim://primary
  secondary  secondary  sim://secondary

Steps
  1  announce · manual · waits for the operator
     Announce the test
     do        Tell the on-call channel and the customers' contacts that the PRA
               test starts now.
     tick      [ ] Change ticket is open
               [ ] Customers were notified

  2  secondary-ready · check
     Secondary site is ready and idle
     expect    db-01, app-01, app-02, web-01 at secondary: all in state shutoff
     timeout   30s per probe

  3  stop-primary · shutdown · SKIPPED · RTO clock starts
     Stop production at the primary site, one VM at a time
     skipped   the primary site primary is assumed lost in disaster mode
     stop      web-01, app-02, app-01, db-01 at primary, one at a time, in this
               order
     timeout   2m per domain, then it is forced off

  4  start-secondary · start · gate: confirm
     Start services at the secondary site
     start     at secondary, group by group, each group together:
               1. db-01
               2. app-01, app-02
               3. web-01
     until     running, at most 5m per domain

  5  secondary-running · check
     Services are running at the secondary site
     expect    db-01, app-01, app-02, web-01 at secondary: all in state running
     timeout   30s per probe

  6  verify-users · manual · waits for the operator · RTO clock stops
     Users can work at the secondary site
     do        Log in as the test user and open a recent file.
`

func TestPlanTextOfTheReferenceDrill(t *testing.T) {
	t.Parallel()
	out, code := planOut(t, "../../"+referenceDrill, "--mode", "disaster")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if out != referenceDisasterPlan {
		t.Errorf("plan differs\ngot:\n%s\nwant:\n%s", out, referenceDisasterPlan)
	}
}

// TestPlanFitsIn80Columns lays out every bundled runbook and the good
// corpus in every mode: no line may be wider than a default terminal.
func TestPlanFitsIn80Columns(t *testing.T) {
	t.Parallel()
	files := []string{"annual-pra-test", "disaster-failover", "failback", "hybrid-restore", "lab-switchover",
		"single-vm-recovery", "../../testdata/runbooks/good/every-kind.yaml", "../../testdata/runbooks/good/minimal.yaml"}
	for _, f := range files {
		for _, mode := range modes {
			out, code := planOut(t, f, "--mode", mode)
			if code != exitOK {
				t.Fatalf("%s in %s mode: exit %d", f, mode, code)
			}
			for i, line := range strings.Split(out, "\n") {
				if w := ansi.StringWidth(line); w > 80 {
					t.Errorf("%s in %s mode, line %d is %d columns wide:\n%s", f, mode, i+1, w, line)
				}
				if line != strings.TrimRight(line, " ") {
					t.Errorf("%s in %s mode, line %d ends with spaces: %q", f, mode, i+1, line)
				}
			}
		}
	}
}

func TestPlanTextSaysWhatMatters(t *testing.T) {
	t.Parallel()
	out, _ := planOut(t, "annual-pra-test", "--mode", "test")
	for _, want := range []string{
		"mode     test: all 8 steps run",
		"RTO      4h target; the clock runs from the start of step 3 stop-primary",
		"RPO      15m target",
		`stop-primary · shutdown · gate: type "primary" · RTO clock starts`,
		"start-secondary · start · gate: confirm",
		"2. app-01, app-02",
		"failure   2 automatic retries: after 30s, then 1m",
		"run       echo 'final replication pass to the secondary site'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SKIPPED") {
		t.Errorf("a step is skipped in test mode:\n%s", out)
	}

	out, _ = planOut(t, "../../testdata/runbooks/good/every-kind.yaml", "--mode", "disaster", "--var", "vm=app-09")
	for _, want := range []string{
		"vm = app-09 (--var)",
		"app-09 at lyon, copying the definitions from paris",
		"stop-front · shutdown · SKIPPED",
		"skipped   the primary site paris is assumed lost in disaster mode",
		"web-* at paris (resolved at run time)",
		"all domains at paris (resolved at run time)",
		"pull-plug · destroy · gate: confirm",
		"modes     runs only in disaster",
		"skipped   runs only in test",
		"parallel  at most 2 at once",
		"until     the guest agent answers, at most 10m per domain",
		"secret    PGPASSWORD from the file /run/keys/pg (never shown or stored)",
		"limit     the whole step may take 1h, retries excepted",
		"failure   the run continues with the next step",
		"snapshot  revert db-01, app-01 at lyon to before-drill",
		"record    the operator types an answer, kept in the audit trail",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
}

// planStepKeys is the documented shape of a step in repli plan --json.
var planStepKeys = []string{"index", "id", "title", "kind", "action", "gate", "approvers", "typed", "waits_for_operator",
	"destructive", "runs", "skip_reason", "targets", "groups", "max_parallel", "on_failure", "retries", "retry_delay_s",
	"timeout_s", "kind_timeout_s", "modes", "skip_in", "rto_mark"}

func TestPlanJSONShape(t *testing.T) {
	t.Parallel()
	doc := planJSON(t, "annual-pra-test", "--mode", "disaster")
	for _, k := range []string{"runbook", "title", "file", "sha256", "mode", "rto_s", "rpo_s", "rto_clock", "vars", "sites", "steps"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in the plan", k)
		}
	}
	if doc["runbook"] != "annual-pra-test" || doc["mode"] != "disaster" || doc["rto_s"] != 14400.0 || doc["rpo_s"] != 900.0 {
		t.Errorf("runbook %v mode %v rto_s %v rpo_s %v", doc["runbook"], doc["mode"], doc["rto_s"], doc["rpo_s"])
	}
	if got := doc["rto_clock"]; !reflect.DeepEqual(got, map[string]any{"start": "stop-primary", "stop": "verify-users"}) {
		t.Errorf("rto_clock %v", got)
	}
	sites := doc["sites"].([]any)
	if len(sites) != 2 || sites[0].(map[string]any)["role"] != "primary" || sites[1].(map[string]any)["uri"] != "sim://secondary" {
		t.Errorf("sites %v", sites)
	}
	for _, s := range doc["steps"].([]any) {
		st := s.(map[string]any)
		for _, k := range planStepKeys {
			if _, ok := st[k]; !ok {
				t.Errorf("step %v has no %q", st["id"], k)
			}
		}
		if len(st) != len(planStepKeys) {
			t.Errorf("step %v has %d keys, the documented shape %d: update the doc and planStepKeys", st["id"], len(st), len(planStepKeys))
		}
	}
	steps := planSteps(t, doc)
	stop := steps["stop-primary"]
	if stop["runs"] != false || !strings.Contains(stop["skip_reason"].(string), "assumed lost") ||
		stop["gate"] != "typed" || stop["typed"] != "primary" || stop["rto_mark"] != "start" || stop["destructive"] != true ||
		stop["kind_timeout_s"] != 120.0 {
		t.Errorf("stop-primary %v", stop)
	}
	for id, st := range steps {
		if id != "stop-primary" && id != "final-sync" && st["runs"] != true {
			t.Errorf("%s does not run in disaster mode: %v", id, st["skip_reason"])
		}
	}
	// The final replication pass reads from the lost primary (site: primary).
	if fs := steps["final-sync"]; fs["runs"] != false || !strings.Contains(fs["skip_reason"].(string), "assumed lost") {
		t.Errorf("final-sync in disaster mode: %v", fs)
	}
	start := steps["start-secondary"]
	wantGroups := []any{[]any{"db-01"}, []any{"app-01", "app-02"}, []any{"web-01"}}
	if !reflect.DeepEqual(start["groups"], wantGroups) || start["gate"] != "confirm" {
		t.Errorf("start-secondary groups %v gate %v", start["groups"], start["gate"])
	}
	sync := steps["final-sync"]
	if sync["retries"] != 2.0 || sync["retry_delay_s"] != 30.0 || sync["kind_timeout_s"] != 1800.0 || sync["on_failure"] != "" {
		t.Errorf("final-sync %v", sync)
	}
	if steps["announce"]["waits_for_operator"] != true || steps["secondary-ready"]["waits_for_operator"] != false {
		t.Error("waits_for_operator is wrong")
	}
}

func TestPlanJSONTargetsAndVars(t *testing.T) {
	t.Parallel()
	doc := planJSON(t, "../../testdata/runbooks/good/every-kind.yaml", "--var", "production=db-07,app-07")
	steps := planSteps(t, doc)
	target := func(id string) map[string]any {
		t.Helper()
		ts := steps[id]["targets"].([]any)
		if len(ts) == 0 {
			t.Fatalf("%s has no targets", id)
		}
		return ts[0].(map[string]any)
	}
	if tg := target("stop-front"); tg["glob"] != "web-*" || tg["resolved_at_run_time"] != true || tg["site"] != "paris" {
		t.Errorf("stop-front target %v", tg)
	}
	if tg := target("agents"); tg["all"] != true || tg["resolved_at_run_time"] != true {
		t.Errorf("agents target %v", tg)
	}
	if tg := target("lyon-off"); !reflect.DeepEqual(tg["domains"], []any{"db-07", "app-07"}) || tg["resolved_at_run_time"] != false {
		t.Errorf("lyon-off target %v: the --var override of a list var is not applied", tg)
	}
	if ts := steps["copy-definition"]["targets"].([]any); len(ts) != 2 || ts[1].(map[string]any)["site"] != "paris" {
		t.Errorf("copy-definition targets %v: want lyon and paris (copied from)", ts)
	}
	if steps["port"]["targets"].([]any) == nil || len(steps["port"]["targets"].([]any)) != 0 {
		t.Errorf("a tcp check targets no domain: %v", steps["port"]["targets"])
	}
	if steps["start-lyon"]["max_parallel"] != 2.0 || steps["stop-front"]["approvers"] != 2.0 {
		t.Errorf("max_parallel %v approvers %v", steps["start-lyon"]["max_parallel"], steps["stop-front"]["approvers"])
	}
	if steps["restore"]["timeout_s"] != 3600.0 || steps["restore"]["kind_timeout_s"] != 2700.0 {
		t.Errorf("restore timeouts %v %v", steps["restore"]["timeout_s"], steps["restore"]["kind_timeout_s"])
	}
	if steps["roll-back"]["runs"] != true || steps["undefine-paris"]["runs"] != false || steps["undefine-paris"]["skip_reason"] != "runs only in failback" {
		t.Errorf("modes in test mode: roll-back %v, undefine-paris %v", steps["roll-back"]["runs"], steps["undefine-paris"]["skip_reason"])
	}
	var production map[string]any
	for _, v := range doc["vars"].([]any) {
		if v.(map[string]any)["name"] == "production" {
			production = v.(map[string]any)
		}
	}
	if production["overridden"] != true || production["is_list"] != true || !reflect.DeepEqual(production["list"], []any{"db-07", "app-07"}) {
		t.Errorf("production var %v", production)
	}
}

func TestPlanBadInputExits2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"annual-pra-test", "--mode", "drill"},
		{"annual-pra-test", "--var", "no_such_var=1"},
		{"annual-pra-test", "--var", "novalue"},
		{"../../testdata/runbooks/bad/two-kinds.yaml"},
		{"no/such/runbook.yaml"},
		{},
	} {
		if out, code := planOut(t, args...); code != exitUsage {
			t.Errorf("repli plan %v: exit %d, want %d\n%s", args, code, exitUsage, out)
		}
	}
}

// TestPlanBinary runs the real binary: the exit code reaches the shell and
// the runbook's problems are on stderr at their line:column.
func TestPlanBinary(t *testing.T) {
	t.Parallel()
	r := runRepli(t, "", "plan", "testdata/runbooks/bad/two-kinds.yaml")
	if r.code != exitUsage || !strings.Contains(r.stderr, "testdata/runbooks/bad/two-kinds.yaml:8:5: step both has two kinds") || r.stdout != "" {
		t.Errorf("bad runbook: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runRepli(t, "", "plan", "annual-pra-test", "--mode", "planned")
	if r.code != exitOK || !strings.Contains(r.stdout, "mode     planned: all 8 steps run") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestPlanJSONIsDocumented keeps repli plan --help in step with the JSON
// keys that scripts rely on.
func TestPlanJSONIsDocumented(t *testing.T) {
	t.Parallel()
	help := strings.Join(strings.Fields(newPlanCmd().Long), " ")
	keys := append([]string{"runbook", "title", "file", "sha256", "mode", "rto_s", "rpo_s", "rto_clock", "vars", "sites",
		"steps", "is_list", "overridden", "uris", "role", "resolved_at_run_time"}, planStepKeys...)
	for _, k := range keys {
		if !strings.Contains(help, k) {
			t.Errorf("repli plan --help does not document the JSON key %q", k)
		}
	}
}
