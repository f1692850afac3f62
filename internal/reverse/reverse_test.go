package reverse

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const twoGroup = "testdata/runbooks/good/two-group-switchover.yaml"

// load parses a runbook under the name it has in the repository, so that
// the header of its way back does not depend on where the test runs.
func load(t *testing.T, file string) *runbooks.Runbook {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", file))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, file, src)
}

func parse(t *testing.T, file string, src []byte) *runbooks.Runbook {
	t.Helper()
	rb, diags := runbooks.Parse(file, src)
	if rb == nil {
		t.Fatalf("%s does not validate:\n%s\n%s", file, diags, src)
	}
	return rb
}

// wayBack reverses rb and parses the result.
func wayBack(t *testing.T, rb *runbooks.Runbook) (*runbooks.Runbook, *Result) {
	t.Helper()
	res, err := Reverse(rb)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, res.Name+".yaml", res.Source), res
}

// corpus is every bundled runbook and the two-group switchover.
func corpus(t *testing.T) map[string]*runbooks.Runbook {
	t.Helper()
	everyKind := "testdata/runbooks/good/every-kind.yaml"
	out := map[string]*runbooks.Runbook{twoGroup: load(t, twoGroup), everyKind: load(t, everyKind)}
	for _, name := range examples.Names() {
		file, src, err := examples.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		out[file] = parse(t, file, src)
	}
	if len(out) < 7 {
		t.Fatalf("only %d runbooks to reverse", len(out))
	}
	return out
}

// TestReverseValidates: the way back of every bundled runbook parses and
// validates, names its origin, swaps the roles and keeps every step.
func TestReverseValidates(t *testing.T) {
	t.Parallel()
	for file, rb := range corpus(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			back, res := wayBack(t, rb)
			if back.ReverseOf == nil || back.ReverseOf.Name != rb.Name || back.ReverseOf.SHA256 != rb.SHA256() {
				t.Errorf("reverse_of = %+v, want %s %s", back.ReverseOf, rb.Name, rb.SHA256())
			}
			if !bytes.Contains(res.Source, []byte(rb.SHA256())) || !bytes.Contains(res.Source, []byte("# Way back of runbook "+rb.Name)) {
				t.Errorf("the header does not name the origin:\n%s", res.Source)
			}
			if back.Name != rb.Name+"-return" {
				t.Errorf("name %q", back.Name)
			}
			for _, s := range rb.Sites {
				if b := back.Site(s.Name); b == nil || b.Role == s.Role || b.URI != s.URI || b.MaxPerHost != s.MaxPerHost {
					t.Errorf("site %s: %+v on the way back, %+v on the way out: want the same URI and cap per host, the other role", s.Name, b, s)
				}
			}
			if len(back.Steps) != len(rb.Steps) {
				t.Errorf("%d steps on the way back, %d on the way out: something was dropped or added", len(back.Steps), len(rb.Steps))
			}
			if m, err := back.RunMode("test", false); err != nil || m != runbooks.ModeFailback {
				t.Errorf("a way back runs in mode %q (%v), want failback", m, err)
			}
			if (rb.RTO != back.RTO) || (rb.RPO != back.RPO) {
				t.Errorf("rto/rpo %s/%s, want %s/%s", back.RTO, back.RPO, rb.RTO, rb.RPO)
			}
			marks := func(r *runbooks.Runbook) (n int) {
				for _, st := range r.Steps {
					if st.RTO != "" {
						n++
					}
				}
				return n
			}
			if marks(back) != marks(rb) {
				t.Errorf("%d RTO marks on the way back, %d on the way out", marks(back), marks(rb))
			}
		})
	}
}

// TestExecBecomesAManualStep: a command repli cannot invert is a manual
// step that shows it, with the answer recorded; never dropped.
func TestExecBecomesAManualStep(t *testing.T) {
	t.Parallel()
	for file, rb := range corpus(t) {
		back, res := wayBack(t, rb)
		for _, st := range rb.Steps {
			if st.Kind != runbooks.KindExec {
				continue
			}
			var found *runbooks.Step
			for _, b := range back.Steps {
				if b.Kind == runbooks.KindManual && strings.Contains(b.Manual.Text, "step "+st.ID+" (") {
					found = b
				}
			}
			if found == nil {
				t.Errorf("%s: exec step %s has no manual step on the way back:\n%s", file, st.ID, res.Source)
				continue
			}
			if !found.Manual.Record {
				t.Errorf("%s: manual step %s does not record what the operator did", file, found.ID)
			}
			// The command's first word and its last argument are shown.
			first, last := st.Exec.Command[0], shellQuote(st.Exec.Command[len(st.Exec.Command)-1])
			if st.Exec.Shell {
				last = st.Exec.Command[0] // the whole line, as written
			}
			if !strings.Contains(found.Manual.Text, first) || !strings.Contains(found.Manual.Text, last) {
				t.Errorf("%s: manual step %s does not show the command %q:\n%s", file, found.ID, st.Exec.Command, found.Manual.Text)
			}
		}
	}
	// The two-group switchover's sync: quoting and the environment's names.
	back, _ := wayBack(t, load(t, twoGroup))
	var text string
	for _, st := range back.Steps {
		if st.ID == "return-final-sync" {
			text = st.Manual.Text
		}
	}
	for _, want := range []string{`zrep sync tank/shop --to 'lyon'\''s pool'`, "environment: ZREP_OPTS", "other direction"} {
		if !strings.Contains(text, want) {
			t.Errorf("the manual step does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "-v") {
		t.Errorf("the manual step shows an environment value:\n%s", text)
	}
}

// TestTwoGroupSwitchover: the way back of a switchover stops the last group
// started first, starts in the way out's group order, inverts the checks
// and puts the RTO clock around the outage of the way back.
func TestTwoGroupSwitchover(t *testing.T) {
	t.Parallel()
	back, _ := wayBack(t, load(t, twoGroup))
	var got []string
	for _, st := range back.Steps {
		line := string(st.Kind)
		switch st.Kind {
		case runbooks.KindCheck:
			line += fmt.Sprintf(" %s %s %v", st.Check.Target.Site, st.Check.State, st.Check.Target.Domains)
		case runbooks.KindShutdown:
			line += fmt.Sprintf(" %s %v force=%v timeout=%s", st.Shutdown.Target.Site, st.Shutdown.Target.Domains, st.Shutdown.Force, st.Shutdown.Timeout)
		case runbooks.KindStart:
			line += fmt.Sprintf(" %s %v", st.Start.Site, st.Start.Groups)
		case runbooks.KindAutostart:
			line += fmt.Sprintf(" %s %v", st.Autostart.Target.Site, st.Autostart.Enabled)
		}
		if st.RTO != "" {
			line += " rto=" + string(st.RTO)
		}
		if st.Gate != runbooks.GateNone {
			line += " gate=" + string(st.Gate)
		}
		got = append(got, line)
	}
	want := []string{
		"manual",
		"check paris shutoff [db-01 app-01 web-01]",
		"check lyon running [db-01 app-01 web-01]",
		"autostart lyon false",
		"shutdown lyon [web-01 app-01 db-01] force=true timeout=30s rto=start gate=typed",
		"manual",
		"check lyon shutoff [db-01 app-01 web-01]",
		"start paris [[db-01] [app-01 web-01]] rto=stop gate=confirm",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the way back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if back.Primary().Name != "lyon" {
		t.Errorf("the way back's primary is %s, want lyon", back.Primary().Name)
	}
}

// TestGolden: the whole text of one way back, comments included, as a
// reviewer reads it (go test ./internal/reverse -update to refresh).
func TestGolden(t *testing.T) {
	t.Parallel()
	res, err := Reverse(load(t, twoGroup))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "testdata", "runbooks", "good", "two-group-switchover-return.yaml")
	if *update {
		if err := os.WriteFile(golden, res.Source, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/reverse -update writes it)", err)
	}
	if !bytes.Equal(res.Source, want) {
		t.Errorf("the way back differs from %s (go test ./internal/reverse -update, then review the diff):\n%s", golden, res.Source)
	}
}

// TestReverseTwice: reversing the way back gives the way out's domain
// actions back, in order, on many generated runbooks; observers come back
// in their place with their own state, manual steps with their own title.
func TestReverseTwice(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(14))
	cases := map[string][]byte{}
	for file, rb := range corpus(t) {
		cases[file] = rb.Source
	}
	for i := 0; i < 300; i++ {
		cases[fmt.Sprintf("generated-%d", i)] = generate(rng, i)
	}
	for name, src := range cases {
		x := parse(t, name, src)
		back, _ := wayBack(t, x)
		again, res := wayBack(t, back)
		if again.Name != x.Name {
			t.Errorf("%s: reversed twice, the name is %q", name, again.Name)
		}
		if len(again.Steps) != len(x.Steps) {
			t.Fatalf("%s: %d steps after two reversals, %d before", name, len(again.Steps), len(x.Steps))
		}
		a, b := actions(x), actions(again)
		if len(a) != len(b) {
			t.Errorf("%s: domain actions\n%s\nreversed twice:\n%s\nsource:\n%s", name, strings.Join(a, "\n"), strings.Join(b, "\n"), src)
			continue
		}
		for i := range a {
			if strings.Contains(a[i], "{") {
				b[i] = asSet(b[i])
			}
			if a[i] != b[i] {
				t.Errorf("%s: action %d is %q, reversed twice %q\nsource:\n%s\ntwice:\n%s", name, i, a[i], b[i], src, res.Source)
			}
		}
		// Observers keep their place as long as no command (which comes
		// back as a manual step, in place on the second reversal) moves
		// the slots.
		execs := 0
		for _, st := range x.Steps {
			if st.Kind == runbooks.KindExec {
				execs++
				shown := shellQuote(st.Exec.Command[len(st.Exec.Command)-1])
				if st.Exec.Shell {
					shown = st.Exec.Command[0]
				}
				if !mentioned(again, shown) {
					t.Errorf("%s: exec %s is not shown by any manual step after two reversals:\n%s", name, st.ID, res.Source)
				}
			}
		}
		for i, st := range x.Steps {
			got := again.Steps[i]
			if execs > 0 {
				break
			}
			switch st.Kind {
			case runbooks.KindManual:
				if got.Kind != runbooks.KindManual || got.Title != st.Title {
					t.Errorf("%s: manual step %s came back as %s %q", name, st.ID, got.Kind, got.Title)
				}
			case runbooks.KindCheck:
				if got.Kind != runbooks.KindCheck || got.Check.State != st.Check.State || got.Check.TCP != st.Check.TCP {
					t.Errorf("%s: check %s came back as %s %+v", name, st.ID, got.Kind, got.Check)
				}
			}
		}
	}
}

func mentioned(rb *runbooks.Runbook, text string) bool {
	for _, st := range rb.Steps {
		if st.Kind == runbooks.KindManual && strings.Contains(st.Manual.Text, text) {
			return true
		}
	}
	return false
}

// actions lists a runbook's domain actions, normalised: a forced off and a
// shutdown are both a stop, whose order only a shutdown has.
func actions(rb *runbooks.Runbook) []string {
	var out []string
	for _, st := range rb.Steps {
		switch st.Kind {
		case runbooks.KindShutdown:
			out = append(out, "stop "+st.Shutdown.Target.Site+" "+strings.Join(st.Shutdown.Target.Domains, ","))
		case runbooks.KindDestroy:
			d := append([]string(nil), st.Power.Domains...)
			sort.Strings(d)
			out = append(out, "stop "+st.Power.Site+" {"+strings.Join(d, ",")+"}")
		case runbooks.KindStart:
			out = append(out, "start "+st.Start.Site+" "+strings.Join(st.Start.Target().Domains, ","))
		case runbooks.KindSuspend, runbooks.KindResume:
			out = append(out, string(st.Kind)+" "+st.Power.String())
		case runbooks.KindAutostart:
			out = append(out, fmt.Sprintf("autostart %v %s", st.Autostart.Enabled, st.Autostart.Target))
		}
	}
	return out
}

// asSet writes a stop as a set of domains: a destroy comes back as a
// shutdown, whose order is made up.
func asSet(a string) string {
	f := strings.Fields(a)
	if len(f) != 3 || f[0] != "stop" || strings.HasPrefix(f[2], "{") {
		return a
	}
	d := strings.Split(f[2], ",")
	sort.Strings(d)
	return "stop " + f[1] + " {" + strings.Join(d, ",") + "}"
}

// generate writes a random valid runbook over two sites and five domains.
func generate(rng *rand.Rand, n int) []byte {
	pool := []string{"db-01", "db-02", "app-01", "app-02", "web-01"}
	sites := []string{"paris", "lyon"}
	pick := func() []string {
		p := rng.Perm(len(pool))[:1+rng.Intn(len(pool))]
		out := make([]string, len(p))
		for i, j := range p {
			out[i] = pool[j]
		}
		return out
	}
	list := func(d []string) string { return "[" + strings.Join(d, ", ") + "]" }
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: gen-%d\nsites:\n  paris: {uri: sim://paris}\n  lyon: {uri: sim://lyon}\nsteps:\n", n)
	steps := 1 + rng.Intn(12)
	for i := 0; i < steps; i++ {
		site := sites[rng.Intn(2)]
		fmt.Fprintf(&b, "  - id: s%d\n", i)
		switch rng.Intn(10) {
		case 0:
			fmt.Fprintf(&b, "    shutdown: {site: %s, domains: %s, force: %v}\n", site, list(pick()), rng.Intn(2) == 0)
		case 1:
			d := pick()
			var groups []string
			for len(d) > 0 {
				k := 1 + rng.Intn(len(d))
				groups = append(groups, list(d[:k]))
				d = d[k:]
			}
			fmt.Fprintf(&b, "    start: {site: %s, groups: [%s]}\n", site, strings.Join(groups, ", "))
		case 2:
			fmt.Fprintf(&b, "    destroy: {site: %s, domains: %s}\n", site, list(pick()))
		case 3:
			fmt.Fprintf(&b, "    %s: {site: %s, domains: %s}\n", []string{"suspend", "resume"}[rng.Intn(2)], site, list(pick()))
		case 4:
			fmt.Fprintf(&b, "    autostart: {site: %s, domains: %s, enabled: %v}\n", site, list(pick()), rng.Intn(2) == 0)
		case 5:
			fmt.Fprintf(&b, "    exec: {command: [echo, \"pass %d $${HOME}\"]}\n", i)
		case 6:
			fmt.Fprintf(&b, "    title: Step %d\n    manual: Do thing %d.\n", i, i)
		case 7:
			fmt.Fprintf(&b, "    check: {site: %s, domains: %s, state: %s}\n", site, list(pick()), []string{"running", "shutoff", "paused"}[rng.Intn(3)])
		case 8:
			fmt.Fprintf(&b, "    check: {tcp: \"%s.example:443\"}\n", site)
		default:
			fmt.Fprintf(&b, "    wait: {until: {site: %s, domains: %s, state: running}, timeout: 2m}\n", site, list(pick()))
		}
	}
	return []byte(b.String())
}

// TestOutsideTextStaysData: a file name or a var value with a newline or
// an escape sequence cannot add lines to the way back or reach a terminal.
func TestOutsideTextStaysData(t *testing.T) {
	t.Parallel()
	src := []byte("version: 1\nname: x\nvars:\n  note: \"a\\nsteps: []\\e[2J\"\nsites:\n  p: {uri: sim://p}\nsteps:\n  - id: a\n    manual: ${note}\n  - id: b\n    exec: {command: [echo, \"$${HOME}\", \"${note}\"]}\n")
	rb := parse(t, "evil\nsteps: []\x1b[2J.yaml", src)
	back, res := wayBack(t, rb)
	if bytes.ContainsRune(res.Source, 0x1b) {
		t.Errorf("an escape character reached the way back:\n%q", res.Source)
	}
	if len(back.Steps) != 2 || back.Steps[0].Manual.Text != rb.Steps[0].Manual.Text {
		t.Errorf("the way back's steps changed: %+v", back.Steps)
	}
	if !strings.Contains(back.Steps[1].Manual.Text, "'${HOME}'") {
		t.Errorf("a literal ${ in a command is not shown as written:\n%s", back.Steps[1].Manual.Text)
	}
}

// TestCopyGoesBack: the way back of a copy copies the same volumes back,
// from the site they went to towards the one they came from, over the
// volumes there (overwrite: destructive, so it asks), with the same
// verification and time limit.
func TestCopyGoesBack(t *testing.T) {
	t.Parallel()
	rb := parse(t, "copy.yaml", []byte(`version: 1
name: copy-out
sites:
  paris: {uri: sim://paris, role: primary}
  lyon: {uri: sim://lyon, role: secondary}
steps:
  - id: sync
    copy:
      from: paris
      to: lyon
      volumes: [{domain: db-01}, {pool: images, name: shared.qcow2}]
      verify: none
      timeout: 90m
`))
	back, res := wayBack(t, rb)
	var c *runbooks.Copy
	var st *runbooks.Step
	for _, b := range back.Steps {
		if b.Kind == runbooks.KindCopy {
			st, c = b, runbooks.CopyOf(b)
		}
	}
	if c == nil {
		t.Fatalf("no copy on the way back:\n%s", res.Source)
	}
	vols := make([]string, len(c.Volumes))
	for i, v := range c.Volumes {
		vols[i] = v.String()
	}
	if c.From != "lyon" || c.To != "paris" || !c.Overwrite || c.Verify != runbooks.VerifyNone || c.Timeout != 90*time.Minute ||
		strings.Join(vols, ",") != "disks of db-01,images/shared.qcow2" {
		t.Errorf("the copy back is %+v (volumes %v):\n%s", c, vols, res.Source)
	}
	if !st.Destructive() || st.Gate == runbooks.GateNone {
		t.Errorf("the copy back overwrites volumes without a gate (gate %s):\n%s", st.Gate, res.Source)
	}
}

// kinds lists a runbook's steps as "id kind", in order.
func kinds(rb *runbooks.Runbook) []string {
	out := make([]string, len(rb.Steps))
	for i, st := range rb.Steps {
		out[i] = st.ID + " " + string(st.Kind)
	}
	return out
}

const labDrill = `version: 1
name: lab-drill
rpo: 15m
sites:
  primary: {uri: sim://primary, role: primary}
  secondary: {uri: sim://secondary, role: secondary}
steps:
%s  - id: stop-primary
    rto: start
    shutdown: {site: primary, domains: [db-01], timeout: 2s, force: true}
  - id: final-sync
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}
  - id: define-secondary
    define: {site: secondary, copy_from: primary, domains: [db-01]}
  - id: start-secondary
    start: {site: secondary, domains: [db-01]}
  - id: running
    rto: stop
    check: {site: secondary, domains: [db-01], state: running}
`

// TestDrillWayBackCopiesBetweenStopAndStart: the way back of the lab's
// drill (stop, copy, define, start) stops db-01 at the secondary, copies
// its disks back over the primary's, and only then starts it at the
// primary. The way back of the definition (a manual step that may remove
// it) comes after the copy, which finds db-01's disks through it; nothing
// is undefined by repli; the RTO and RPO marks are kept.
func TestDrillWayBackCopiesBetweenStopAndStart(t *testing.T) {
	t.Parallel()
	rb := parse(t, "lab-drill.yaml", []byte(fmt.Sprintf(labDrill, "")))
	back, res := wayBack(t, rb)
	want := []string{"stop-secondary shutdown", "copy-back-primary copy", "return-define-secondary manual", "start-primary start", "secondary-shut-off check"}
	if got := kinds(back); !reflect.DeepEqual(got, want) {
		t.Fatalf("way back\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.Source)
	}
	c := runbooks.CopyOf(back.Steps[1])
	if c.From != "secondary" || c.To != "primary" || !c.Overwrite || len(c.Volumes) != 1 || c.Volumes[0].Domain != "db-01" {
		t.Errorf("copy back %+v", c)
	}
	if back.Steps[0].RTO != runbooks.RTOStart || back.Steps[4].RTO != runbooks.RTOStop || back.RPO != 15*time.Minute {
		t.Errorf("marks: %s on %s, %s on %s, rpo %s", back.Steps[0].RTO, back.Steps[0].ID, back.Steps[4].RTO, back.Steps[4].ID, back.RPO)
	}
	for _, st := range back.Steps {
		if st.Kind == runbooks.KindUndefine || st.Kind == runbooks.KindDestroy {
			t.Errorf("the way back removes or forces off something by itself: step %s (%s)", st.ID, st.Kind)
		}
	}
	if !bytes.Contains(res.Source, []byte("Moved after the way back of step final-sync")) {
		t.Errorf("the way back does not say why the definition's step moved:\n%s", res.Source)
	}
	if bytes.Contains(res.Source, []byte("4h0m0s")) {
		t.Errorf("the copy's timeout is not written the way runbooks write it:\n%s", res.Source)
	}
}

// TestFirstPassGoesBackBeforeProductionStops: a drill that copies once
// while production runs (a first pass) and again once it is stopped (the
// final pass). Undone last first, the first pass back would run after
// db-01 started at the primary, over its disks; it runs instead while
// production still runs at the secondary, before it is stopped there.
// Reversed again, the way out comes back in its own order.
func TestFirstPassGoesBackBeforeProductionStops(t *testing.T) {
	t.Parallel()
	first := `  - id: first-pass
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}], target: overwrite}
`
	rb := parse(t, "lab-drill.yaml", []byte(fmt.Sprintf(labDrill, first)))
	back, res := wayBack(t, rb)
	want := []string{"copy-back-primary copy", "stop-secondary shutdown", "copy-back-primary-2 copy", "return-define-secondary manual", "start-primary start", "secondary-shut-off check"}
	if got := kinds(back); !reflect.DeepEqual(got, want) {
		t.Fatalf("way back\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.Source)
	}
	if !strings.Contains(back.Steps[0].Description, "first-pass") || !strings.Contains(back.Steps[2].Description, "final-sync") {
		t.Errorf("the first pass back is not first: %q, %q", back.Steps[0].Description, back.Steps[2].Description)
	}
	if !bytes.Contains(res.Source, []byte("Moved before the way back of step start-secondary")) {
		t.Errorf("the way back does not say why the first pass moved:\n%s", res.Source)
	}
	again, res := wayBack(t, back)
	want = []string{"copy", "shutdown", "copy", "manual", "start", "check"}
	for i, st := range again.Steps {
		if string(st.Kind) != want[i] {
			t.Fatalf("reversed twice, step %d is %s, want %s:\n%s", i, st.Kind, want[i], res.Source)
		}
	}
	if c := runbooks.CopyOf(again.Steps[0]); c.From != "primary" || c.To != "secondary" {
		t.Errorf("reversed twice, the first pass copies from %s to %s", c.From, c.To)
	}
}

// TestRecoveryPointsKept: a backup check that gave the way out its
// recovery point is kept as written, recovery_point included, so the way
// back's RPO is measured the same way; a command that printed it becomes
// a manual step that says so, and a note tells the reviewer.
func TestRecoveryPointsKept(t *testing.T) {
	t.Parallel()
	rb := parse(t, "rp.yaml", []byte(`version: 1
name: rp
rpo: 1h
sites:
  paris: {uri: sim://paris, role: primary}
  lyon: {uri: sim://lyon, role: secondary}
steps:
  - id: backup-fresh
    check: {file: /srv/backup/db.age, max_age: 24h, recovery_point: true}
  - id: last-pass
    exec: {command: [zfs-last-sync, tank/db], site: paris, recovery_point: stdout}
  - id: start-lyon
    start: {site: lyon, domains: [db-01]}
`))
	back, res := wayBack(t, rb)
	var check, manual *runbooks.Step
	for _, st := range back.Steps {
		switch st.Kind {
		case runbooks.KindCheck:
			check = st
		case runbooks.KindManual:
			manual = st
		}
	}
	if check == nil || check.Check.File != "/srv/backup/db.age" || !check.Check.RecoveryPoint {
		t.Errorf("the backup check on the way back: %+v\n%s", check, res.Source)
	}
	if manual == nil || !strings.Contains(manual.Manual.Text, "recovery_point: stdout") || !strings.Contains(manual.Manual.Text, "concerning site paris") {
		t.Errorf("the command's manual step does not say it gave the recovery point, or which site it concerned:\n%s", res.Source)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "recovery point") {
		t.Errorf("no note about the recovery point: %q", res.Notes)
	}
}

// TestNoCopyBackOverRunningGuests: on many generated drills that stop,
// copy, define and start domains in any order, the way back validates,
// keeps every step, never copies volumes back after it started their
// domains at the copy's target, and never offers to remove a definition
// before a copy back that reads the domains' disks through it.
func TestNoCopyBackOverRunningGuests(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1414))
	sites := []string{"paris", "lyon"}
	doms := []string{"db-01", "app-01", "web-01"}
	for n := 0; n < 300; n++ {
		var b strings.Builder
		fmt.Fprintf(&b, "version: 1\nname: gen-%d\nsites:\n  paris: {uri: sim://paris}\n  lyon: {uri: sim://lyon}\nsteps:\n", n)
		for i := 0; i < 2+rng.Intn(8); i++ {
			from := rng.Intn(2)
			site, other, d := sites[from], sites[1-from], doms[rng.Intn(len(doms))]
			fmt.Fprintf(&b, "  - id: s%d\n", i)
			switch rng.Intn(5) {
			case 0:
				fmt.Fprintf(&b, "    shutdown: {site: %s, domains: [%s], force: true}\n", site, d)
			case 1:
				fmt.Fprintf(&b, "    start: {site: %s, domains: [%s]}\n", site, d)
			case 2:
				fmt.Fprintf(&b, "    copy: {from: %s, to: %s, volumes: [{domain: %s}], target: overwrite}\n", site, other, d)
			case 3:
				fmt.Fprintf(&b, "    define: {site: %s, copy_from: %s, domains: [%s]}\n", other, site, d)
			default:
				fmt.Fprintf(&b, "    destroy: {site: %s, domains: [%s]}\n", site, d)
			}
		}
		rb := parse(t, fmt.Sprintf("gen-%d.yaml", n), []byte(b.String()))
		back, res := wayBack(t, rb)
		if len(back.Steps) != len(rb.Steps) {
			t.Fatalf("gen-%d: %d steps back, %d out", n, len(back.Steps), len(rb.Steps))
		}
		for i, st := range back.Steps {
			c := runbooks.CopyOf(st)
			if c == nil {
				continue
			}
			for _, earlier := range back.Steps[:i] {
				if earlier.Kind == runbooks.KindStart && touches(earlier, c.To, copyDomains(c)) {
					t.Fatalf("gen-%d: copy back %s runs after %s started its domains at %s:\n%s\nway out:\n%s", n, st.ID, earlier.ID, c.To, res.Source, b.String())
				}
				if earlier.Kind == runbooks.KindManual && strings.Contains(earlier.Manual.Text, "definitions of "+c.Volumes[0].Domain+" from "+c.To+" to "+c.From) {
					t.Fatalf("gen-%d: %s offers to remove a definition at %s before copy back %s reads it:\n%s", n, earlier.ID, c.From, st.ID, res.Source)
				}
			}
		}
	}
}
