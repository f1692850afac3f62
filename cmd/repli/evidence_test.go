package main

// The drill's evidence end to end: the real binary runs a bundled runbook
// on simulated sites, then show, report, history and compare read the
// trail, from a read-only copy as a reviewer's laptop would.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/store"
)

// readOnlyCopy copies a trail into a directory no one may write: 0444
// file, 0555 directory (restored for cleanup).
func readOnlyCopy(t *testing.T, db string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db + "-wal"); err == nil {
		t.Fatalf("%s still has a WAL: the copy would miss its last writes", db)
	}
	cp := filepath.Join(dir, "audit.db")
	if err := os.WriteFile(cp, b, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	return cp
}

func loadRun(t *testing.T, db string, id int64) *evidence.Run {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := evidence.Load(context.Background(), s, id, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEvidenceOfASimulatedDrill: the annual PRA test on simulated sites,
// app-02 ignoring its shutdown: every step of the runbook is in the
// document, the RTO passes its 4h target, each gate names who answered and
// what was typed, the forced shutdown of app-02 is found, and the run's
// events verify.
func TestEvidenceOfASimulatedDrill(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	r := runRepli(t, "", "run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50", "--fault", "ignore-shutdown=primary/app-02")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	ev := loadRun(t, db, 1)
	d := ev.Doc
	if ev.Runbook == nil {
		t.Fatalf("the recorded runbook does not parse: %v", ev.RunbookErr)
	}
	if len(d.Timeline) != len(ev.Runbook.Steps) {
		t.Errorf("%d timeline rows for %d steps", len(d.Timeline), len(ev.Runbook.Steps))
	}
	rows := map[string]int{}
	for i, s := range d.Timeline {
		rows[s.ID] = i
		if s.Order != i+1 {
			t.Errorf("step %s has order %d at row %d", s.ID, s.Order, i+1)
		}
	}
	for i, st := range ev.Runbook.Steps {
		row, ok := rows[st.ID]
		switch {
		case !ok:
			t.Errorf("step %s is not in the report", st.ID)
		case row != i:
			t.Errorf("step %s is row %d, planned %d", st.ID, row+1, i+1)
		case d.Timeline[row].Result != "succeeded" || d.Timeline[row].Started.IsZero():
			t.Errorf("step %s: %+v", st.ID, d.Timeline[row])
		}
	}
	id := d.Identification
	if !id.Simulated || id.Outcome != "succeeded" || id.RunbookSHA256 != ev.Progress.Started.SHA256 || id.RTOTarget != 4*time.Hour || id.RPOTarget != 15*time.Minute {
		t.Errorf("identification: %+v", id)
	}
	if rto := d.Objectives.RTO; rto.Verdict() != "pass" || rto.FromStep != "stop-primary" || rto.ToStep != "verify-users" || rto.Achieved <= 0 {
		t.Errorf("RTO: %+v → %s", rto, rto.Verdict())
	}
	if d.Objectives.RPO.Verdict() != "not_measured" {
		t.Errorf("RPO verdict %s: nothing measures it", d.Objectives.RPO.Verdict())
	}
	stop := d.Timeline[rows["stop-primary"]]
	if strings.Join(stop.ForcedShutdowns, ",") != "app-02" || !stop.RTOStart {
		t.Errorf("stop-primary: forced %v, rto start %v", stop.ForcedShutdowns, stop.RTOStart)
	}
	var forced bool
	for _, x := range d.Deviations {
		forced = forced || (x.Kind == "forced_shutdown" && x.Step == "stop-primary" && strings.Contains(x.Detail, "app-02"))
	}
	if !forced {
		t.Errorf("no forced_shutdown deviation: %+v", d.Deviations)
	}
	var typed bool
	for _, g := range d.Gates {
		if len(g.Decisions) == 0 || g.Opened.IsZero() || g.Closed.IsZero() {
			t.Errorf("gate %s: %+v", g.Step, g)
			continue
		}
		for _, x := range g.Decisions {
			if x.By != "auto-approve" || !x.Approved {
				t.Errorf("gate %s decision %+v", g.Step, x)
			}
		}
		if g.Step == "stop-primary" {
			typed = g.Kind == "typed" && g.Decisions[0].Typed == "primary"
		}
	}
	if !typed {
		t.Errorf("the typed gate of stop-primary is not there with what was typed: %+v", d.Gates)
	}
	if in := d.Integrity; !in.Verified || int64(in.Events) != ev.Verify.Events || in.Events < ev.Progress.Events || !strings.HasPrefix(in.ChainHead, strconv.FormatInt(ev.Verify.LastID, 10)+":") {
		t.Errorf("integrity: %+v", in)
	}
}

// TestRTOFailsPastItsTarget: a runbook whose RTO target is shorter than
// the work between its marks reads FAIL, in the document and in show.
func TestRTOFailsPastItsTarget(t *testing.T) {
	t.Parallel()
	plan := writeRunbook(t, `version: 1
name: slow-recovery
rto: 1s
sites:
  primary: {uri: sim://primary}
steps:
  - id: restore
    rto: start
    exec: {command: [sleep, "2"]}
  - id: back
    rto: stop
    exec: {command: ["true"]}
`)
	db := filepath.Join(t.TempDir(), "audit.db")
	if r := runRepli(t, "", "run", plan, "--auto-approve", "--plain", "--db", db); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d := loadRun(t, db, 1).Doc
	if rto := d.Objectives.RTO; rto.Verdict() != "fail" || rto.Achieved < 2*time.Second {
		t.Errorf("RTO %+v → %s, want fail", rto, rto.Verdict())
	}
	if show := runRepli(t, "", "show", "1", "--db", db); !strings.Contains(show.stdout, "RTO ✗ FAIL") {
		t.Errorf("show does not say the RTO failed:\n%s", show.stdout)
	}
}

// TestReviewOnAReadOnlyCopy: history, show, compare and the French HTML
// report of two runs of one runbook, from a copy in a directory nobody may
// write; the report prints to PDF with Chromium and the PDF names every
// step.
func TestReviewOnAReadOnlyCopy(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	for range 2 {
		if r := runRepli(t, "", "run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
			t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	ro := readOnlyCopy(t, db)

	h := runRepli(t, "", "history", "--db", ro, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || h.code != 0 {
		t.Fatalf("history --json: exit %d, %v\n%s%s", h.code, err, h.stdout, h.stderr)
	}
	if len(rows) != 2 || rows[0]["simulated"] != true || rows[0]["rpo_target_s"] != 900.0 || rows[0]["rpo_achieved_s"] != nil || rows[0]["outcome"] != "succeeded" {
		t.Errorf("history rows: %v", rows)
	}
	if ht := runRepli(t, "", "history", "--db", ro); !strings.Contains(ht.stdout, "Simulated runs") {
		t.Errorf("history does not list the simulated runs apart:\n%s", ht.stdout)
	}
	for _, f := range []struct {
		args []string
		n    int
	}{
		{[]string{"--runbook", "annual-pra-test"}, 2}, {[]string{"--runbook", "other"}, 0},
		{[]string{"--mode", "test"}, 2}, {[]string{"--mode", "disaster"}, 0},
		{[]string{"--outcome", "succeeded"}, 2}, {[]string{"--outcome", "interrupted"}, 0},
		{[]string{"--since", "1d"}, 2}, {[]string{"--since", "2999-01-01"}, 0}, {[]string{"--simulated"}, 2},
	} {
		r := runRepli(t, "", append([]string{"history", "--db", ro, "--json"}, f.args...)...)
		var got []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != f.n {
			t.Errorf("history %v: %d runs (%v), want %d\n%s", f.args, len(got), err, f.n, r.stderr)
		}
	}

	show := runRepli(t, "", "show", "2", "--db", ro)
	for _, want := range []string{"Run 2 · annual-pra-test", "SIMULATED", "stop-primary", "█", "RTO ✓ PASS", "Anchor: "} {
		if show.code != 0 || !strings.Contains(show.stdout, want) {
			t.Errorf("show lacks %q: exit %d\n%s%s", want, show.code, show.stdout, show.stderr)
		}
	}

	cmp := runRepli(t, "", "compare", "1", "2", "--db", ro, "--json")
	var c struct {
		Relation string `json:"relation"`
		Runbook  struct {
			Same bool `json:"same"`
		} `json:"runbook_diff"`
		Steps []struct {
			ID     string   `json:"id"`
			In     string   `json:"in"`
			DeltaS *float64 `json:"delta_s"`
		} `json:"steps"`
		RTO struct {
			DeltaS *float64 `json:"delta_s"`
		} `json:"rto"`
	}
	if err := json.Unmarshal([]byte(cmp.stdout), &c); err != nil || cmp.code != 0 {
		t.Fatalf("compare --json: exit %d, %v\n%s%s", cmp.code, err, cmp.stdout, cmp.stderr)
	}
	if c.Relation != "same runbook" || !c.Runbook.Same || len(c.Steps) != 8 || c.RTO.DeltaS == nil {
		t.Errorf("compare: %+v", c)
	}
	for _, s := range c.Steps {
		if s.In != "both" || s.DeltaS == nil {
			t.Errorf("compare step %+v", s)
		}
	}
	if ct := runRepli(t, "", "compare", "1", "2", "--db", ro); !strings.Contains(ct.stdout, "Relation: same runbook") || !strings.Contains(ct.stdout, "stop-primary") {
		t.Errorf("compare text:\n%s%s", ct.stdout, ct.stderr)
	}

	// The French HTML report, written out of the read-only directory.
	out := filepath.Join(t.TempDir(), "rapport.html")
	if r := runRepli(t, "", "report", "2", "--db", ro, "--format", "html", "--lang", "fr", "-o", out); r.code != 0 {
		t.Fatalf("report: exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{`<html lang="fr"`, "<svg", "stop-primary", "DMIA"} {
		if !strings.Contains(html, want) {
			t.Errorf("the French HTML report lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)<(script|link)\b|src="http`).MatchString(html) {
		t.Error("the HTML report is not self-contained")
	}
	if r := runRepli(t, "", "report", "2", "--db", ro, "--format", "html", "-o", filepath.Join(filepath.Dir(ro), "r.html")); r.code == 0 && os.Geteuid() != 0 {
		t.Error("report -o into a read-only directory succeeded")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("chromium not installed: the PDF is not checked here (internal/report's test checks the sample's)")
		return
	}
	pdf := filepath.Join(filepath.Dir(out), "rapport.pdf")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a guard against a hung browser
	defer cancel()
	if o, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
		"--user-data-dir="+filepath.Join(filepath.Dir(out), "profile"), "--print-to-pdf="+pdf, "file://"+out).CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, o)
	}
	text, err := exec.Command("pdftotext", "-enc", "UTF-8", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, s := range loadRun(t, ro, 2).Doc.Timeline {
		if !strings.Contains(string(text), s.ID) {
			t.Errorf("step %s is not in the PDF", s.ID)
		}
	}
	if os.Getenv("REPLI_KEEP_REPORT") != "" {
		os.WriteFile(os.Getenv("REPLI_KEEP_REPORT"), text, 0o644)
	}
}

// TestKilledRunReadsInterrupted: a console killed at a gate leaves a run
// that history and show call interrupted, never running.
func TestKilledRunReadsInterrupted(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	c := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db, "--speed", "10")
	waitEvents(t, db, 3, c.done) // the announce gate is open
	c.kill()
	h := runRepli(t, "", "history", "--db", db, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("history --json: %v\n%s%s", err, h.stdout, h.stderr)
	}
	if rows[0]["outcome"] != "interrupted" || rows[0]["ended_at"] != nil || !strings.Contains(rows[0]["reason"].(string), "no longer exists") {
		t.Errorf("killed run: %v", rows[0])
	}
	if ht := runRepli(t, "", "history", "--db", db); !strings.Contains(ht.stdout, "⏸ interrupted") || strings.Contains(ht.stdout, "running") {
		t.Errorf("history text:\n%s", ht.stdout)
	}
	if r := runRepli(t, "", "history", "--db", db, "--outcome", "interrupted", "--json"); !strings.Contains(r.stdout, `"id": 1`) {
		t.Errorf("--outcome interrupted:\n%s", r.stdout)
	}
	show := runRepli(t, "", "show", "1", "--db", db)
	if !strings.Contains(show.stdout, "⏸ interrupted") || !strings.Contains(show.stdout, "⏸ no answer") {
		t.Errorf("show of the killed run:\n%s%s", show.stdout, show.stderr)
	}
}

// TestReportSignaturesReverifyWithSSHKeygenAlone: each signature in the
// report carries what ssh-keygen -Y verify needs (the message, the armored
// signature, an allowed_signers line), and verifies with it, with no repli.
func TestReportSignaturesReverifyWithSSHKeygenAlone(t *testing.T) {
	t.Parallel()
	db, _ := signedTrail(t, "alice")
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := evidence.Load(context.Background(), s, 1, evidence.Options{CheckSignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	d := ev.Doc
	if len(d.Integrity.Signatures) != 2 {
		t.Fatalf("%d signatures, want the decision's and the run end's: %+v", len(d.Integrity.Signatures), d.Integrity.Signatures)
	}
	if len(d.People.Approvers) != 1 || !d.People.Approvers[0].Signed || d.People.Approvers[0].Key == "" {
		t.Errorf("approvers: %+v", d.People.Approvers)
	}
	if len(d.Gates) != 1 || len(d.Gates[0].Decisions) != 1 || !d.Gates[0].Decisions[0].Signed {
		t.Errorf("gates: %+v", d.Gates)
	}
	dir := t.TempDir()
	for i, sg := range d.Integrity.Signatures {
		if !sg.Valid || sg.Principal != "alice" || sg.AllowedSigners == "" {
			t.Errorf("signature %d: %+v", i, sg)
			continue
		}
		allowed := filepath.Join(dir, "allowed_signers")
		sig := filepath.Join(dir, "sig")
		os.WriteFile(allowed, []byte(sg.AllowedSigners+"\n"), 0o644)
		os.WriteFile(sig, []byte(sg.Armored+"\n"), 0o644)
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", sg.Principal, "-n", sg.Namespace, "-s", sig)
		cmd.Stdin = strings.NewReader(sg.Message + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("ssh-keygen -Y verify of %s: %v\n%s", sg.What, err, out)
		}
		cmd = exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", sg.Principal, "-n", sg.Namespace, "-s", sig)
		cmd.Stdin = strings.NewReader(sg.Message + " tampered\n")
		if err := cmd.Run(); err == nil {
			t.Errorf("ssh-keygen verified %s over another message", sg.What)
		}
	}
}

// TestOverriddenBlockerIsInTheReadiness: a run started with
// --force-unready shows the blocker overridden, by whom and with the reason
// given, in the readiness section and among the deviations.
func TestOverriddenBlockerIsInTheReadiness(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	const why = "rehearsing with the link down"
	r := runRepliEnv(t, []string{"SUDO_USER=claire"}, "", "run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50",
		"--fault", "unreachable=secondary", "--force-unready", why)
	if r.code != 1 {
		t.Fatalf("overridden run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d := loadRun(t, db, 1).Doc
	var blocker bool
	for _, a := range d.Accepted {
		if a.Severity == "blocker" && strings.Contains(a.Message, "secondary is unreachable") && a.Reason == why && a.By != "" {
			blocker = true
		}
	}
	if !blocker {
		t.Errorf("accepted: %+v", d.Accepted)
	}
	var override, notRun bool
	for _, x := range d.Deviations {
		override = override || (x.Kind == "override" && strings.Contains(x.Detail, why))
		notRun = notRun || x.Kind == "not_executed"
	}
	if !override || !notRun || d.Identification.Outcome != "failed" {
		t.Errorf("outcome %s, deviations: %+v", d.Identification.Outcome, d.Deviations)
	}
	for _, s := range d.Readiness.Sites {
		if s.Site == "secondary" && s.Reachable {
			t.Errorf("the secondary is shown reachable at start: %+v", s)
		}
	}
}

// TestCompareNamesWhatChanged: the drill, then a new version of its
// runbook (a step added, one changed, one removed), then its way back
// written by repli reverse: compare names the steps added, removed and
// changed, and labels the way back the return to normal of the drill.
func TestCompareNamesWhatChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	src, err := os.ReadFile(filepath.Join("..", "..", "runbooks", "examples", "annual-pra-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(dir, "v1.yaml")
	os.WriteFile(v1, src, 0o644)
	text := strings.Replace(string(src), "\n  - id: final-sync\n", "\n  - id: warm-cache\n    title: Warm the application cache\n    exec: {command: [echo, warm]}\n  - id: final-sync\n", 1)
	text = strings.Replace(text, "rto: 4h", "rto: 3h", 1)
	re := regexp.MustCompile(`(?s)\n  - id: secondary-running\n.*?\n(  - id: )`)
	text = re.ReplaceAllString(text, "\n$1")
	text = strings.Replace(text, "title: Stop production at the primary site", "title: Stop production at the primary site (new order)", 1)
	v2 := filepath.Join(dir, "v2.yaml")
	os.WriteFile(v2, []byte(text), 0o644)
	for _, p := range []string{v1, v2} {
		if r := runRepli(t, "", "run", p, "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
			t.Fatalf("run %s: exit %d\n%s\n%s", p, r.code, r.stdout, r.stderr)
		}
	}
	back := filepath.Join(dir, "back.yaml")
	if r := runRepli(t, "", "reverse", v1, "-o", back); r.code != 0 {
		t.Fatalf("reverse: exit %d\n%s", r.code, r.stderr)
	}
	runRepli(t, "", "run", back, "--auto-approve", "--plain", "--db", db, "--speed", "50") // its outcome does not matter here

	var c struct {
		Relation string `json:"relation"`
		Runbook  struct {
			Same    bool     `json:"same"`
			Added   []string `json:"added"`
			Removed []string `json:"removed"`
			Changed []struct {
				ID     string   `json:"id"`
				Fields []string `json:"fields"`
			} `json:"changed"`
		} `json:"runbook_diff"`
		Steps []struct {
			ID string `json:"id"`
			In string `json:"in"`
		} `json:"steps"`
		RTO struct {
			TargetA *float64 `json:"target_a_s"`
			TargetB *float64 `json:"target_b_s"`
		} `json:"rto"`
	}
	r := runRepli(t, "", "compare", "1", "2", "--db", db, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("compare: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if c.Relation != "same runbook, another version" || c.Runbook.Same ||
		strings.Join(c.Runbook.Added, ",") != "warm-cache" || strings.Join(c.Runbook.Removed, ",") != "secondary-running" {
		t.Errorf("compare 1 2: %+v", c)
	}
	if len(c.Runbook.Changed) != 1 || c.Runbook.Changed[0].ID != "stop-primary" || strings.Join(c.Runbook.Changed[0].Fields, ",") != "title" {
		t.Errorf("changed: %+v", c.Runbook.Changed)
	}
	if c.RTO.TargetA == nil || c.RTO.TargetB == nil || *c.RTO.TargetA != 4*3600 || *c.RTO.TargetB != 3*3600 {
		t.Errorf("rto targets: %+v", c.RTO)
	}
	in := map[string]string{}
	for _, s := range c.Steps {
		in[s.ID] = s.In
	}
	if in["warm-cache"] != "b" || in["secondary-running"] != "a" || in["stop-primary"] != "both" {
		t.Errorf("steps: %+v", c.Steps)
	}
	txt := runRepli(t, "", "compare", "1", "2", "--db", db)
	for _, want := range []string{"+ warm-cache (added)", "- secondary-running (removed)", "~ stop-primary (changed: title)"} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("compare text lacks %q:\n%s", want, txt.stdout)
		}
	}
	r = runRepli(t, "", "compare", "1", "3", "--db", db, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.Relation != "B is the return to normal of A" {
		t.Errorf("compare with the way back: %q (%v)\n%s", c.Relation, err, r.stderr)
	}
	if h := runRepli(t, "", "history", "--db", db); !strings.Contains(h.stdout, "return to normal of annual-pra-test") {
		t.Errorf("history does not label the way back:\n%s", h.stdout)
	}
}
