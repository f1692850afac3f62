package store

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/sshsig"
)

// operators are alice, bob and mallory, each with an ed25519 key made by
// ssh-keygen, and the allowed_signers file that names them.
type operators struct {
	dir     string
	keys    map[string]string // login → private key file
	allowed string
}

func newOperators(t testing.TB) operators {
	t.Helper()
	o := operators{dir: t.TempDir(), keys: map[string]string{}}
	var lines []string
	for _, who := range []string{"alice", "bob", "mallory"} {
		p := filepath.Join(o.dir, who)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		pub, err := os.ReadFile(p + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		o.keys[who] = p
		lines = append(lines, who+" "+strings.TrimSpace(string(pub)))
	}
	o.allowed = filepath.Join(o.dir, "allowed_signers")
	if err := os.WriteFile(o.allowed, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o operators) signer(t testing.TB, who string) *sshsig.Signer {
	t.Helper()
	s, err := sshsig.FromKeyFile(context.Background(), o.keys[who])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fourEyesRun journals, on the driving console d, a run whose step needs
// two approvers: the first approves at d, the second sends an approval from
// console a (repli approve), which d journals on their behalf. It returns
// the run id.
func fourEyesRun(t *testing.T, d, a *Store, first, second string) int64 {
	t.Helper()
	ctx := context.Background()
	id := createRun(t, d, "erp")
	evs := failoverEvents("")
	evs[2].(*engine.GateOpened).Approvers = 2
	dec := evs[4].(*engine.GateDecided)
	dec.Operator, dec.Approvals, dec.Needed = first, 1, 2
	appendAll(t, d, id, 0, evs[:5])
	if _, err := a.RequestApproval(ctx, Approval{RunID: id, Step: "stop-primary", Operator: second, Typed: "vm-db"}); err != nil {
		t.Fatal(err)
	}
	rest := []engine.Event{
		&engine.GateDecided{Step: "stop-primary", Approved: true, Operator: second, Typed: "vm-db", Approvals: 2, Needed: 2},
		&engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute},
	}
	appendAll(t, d, id, 5, rest)
	return id
}

func findings(checks []SignatureCheck) []string {
	var out []string
	for _, c := range checks {
		if c.Finding() {
			out = append(out, c.String())
		}
	}
	return out
}

// TestSignedFourEyesRunVerifies: alice drives and approves, bob approves
// from his own console with his own key; every decision and the end are
// signed, verified against allowed_signers, and the two approvers are two
// verified people. The trail still verifies with the signature events in
// it, and resume still reads the run's events without them.
func TestSignedFourEyesRunVerifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	d, path := openTemp(t)
	d.SetSigner("alice", o.signer(t, "alice"), nil)
	b := console(t, path, time.Now())
	b.SetSigner("bob", o.signer(t, "bob"), nil)
	id := fourEyesRun(t, d, b, "alice", "bob")

	checks, err := d.CheckSignatures(ctx, 0, o.allowed)
	if err != nil {
		t.Fatal(err)
	}
	if f := findings(checks); len(f) != 0 || len(checks) != 3 {
		t.Fatalf("%d checks, findings:\n%s", len(checks), strings.Join(f, "\n"))
	}
	if checks[2].Kind != "run.ended" || checks[1].Principal != "bob" || checks[0].Principal != "alice" {
		t.Errorf("checks = %+v", checks)
	}
	if v, err := d.Verify(ctx, id); err != nil || !v.OK || v.RunCount != 7+3 {
		t.Fatalf("Verify = %+v, %v; want 7 events and 3 signatures", v, err)
	}
	evs, err := d.Events(ctx, id)
	if err != nil || len(evs) != 7 {
		t.Fatalf("Events = %d, %v; want the 7 events of the run, no signatures", len(evs), err)
	}
	if _, err := engine.ProgressOf(evs); err != nil {
		t.Errorf("replay: %v", err)
	}
	sigs, err := d.Signatures(ctx, id)
	if err != nil || len(sigs) != 3 || sigs[2].SignedKind != "run.ended" || sigs[1].Approval == nil || sigs[1].Approval.Operator != "bob" {
		t.Fatalf("Signatures = %+v, %v", sigs, err)
	}

	// Without allowed_signers: valid, but whose key is not known, and the
	// second person is unverified.
	checks, err = d.CheckSignatures(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Join(findings(checks), "\n")
	if !strings.Contains(f, "unverified") || !strings.Contains(f, "second person unverified") {
		t.Errorf("without allowed_signers:\n%s", f)
	}
}

// TestSpoofedSecondApprover is `SUDO_USER=alice repli approve` from one
// root shell: the approval says alice, but it is signed by whatever key
// that shell has, or by none. It is not a second person.
func TestSpoofedSecondApprover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	tests := []struct {
		name   string
		signer func() Signer
		status SigStatus
	}{
		{"mallory's key, calling herself bob", func() Signer { return o.signer(t, "mallory") }, SigNotAllowed},
		{"no key", func() Signer { return nil }, SigUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, path := openTemp(t)
			d.SetSigner("alice", o.signer(t, "alice"), nil)
			m := console(t, path, time.Now())
			m.SetSigner("bob", tt.signer(), sshsig.ErrNoKey)
			fourEyesRun(t, d, m, "alice", "bob")
			checks, err := d.CheckSignatures(ctx, 0, o.allowed)
			if err != nil {
				t.Fatal(err)
			}
			f := findings(checks)
			if len(f) != 2 || checks[1].Status != tt.status || checks[1].Operator != "bob" || checks[2].Status != SigUnproven || checks[2].Kind != "approvers" {
				t.Fatalf("findings:\n%s\nchecks: %+v", strings.Join(f, "\n"), checks)
			}
			if !strings.Contains(f[1], "needed 2 different approvers; 1 verified") {
				t.Errorf("approvers finding = %s", f[1])
			}
		})
	}
}

// TestOneKeyTwoNamesIsOnePerson: alice approves twice, once under her
// name and once as bob at her own console: her console does not sign for
// bob, and one person is not two.
func TestOneKeyTwoNamesIsOnePerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	d, _ := openTemp(t)
	d.SetSigner("alice", o.signer(t, "alice"), nil)
	fourEyesRun(t, d, d, "alice", "bob")
	checks, err := d.CheckSignatures(ctx, 0, o.allowed)
	if err != nil {
		t.Fatal(err)
	}
	if f := findings(checks); len(f) != 2 || checks[1].Status != SigUnsigned || !strings.Contains(f[0], "signed by alice's key, not by bob") || checks[2].Status != SigUnproven {
		t.Fatalf("findings:\n%s", strings.Join(f, "\n"))
	}
}

// TestForgedRunIsNamed is the forged run of the issue: with the file and
// a 15-line script, an attacker appends a backdated run by "alice", with
// valid hashes and a runs row that matches its events. The chain verifies;
// the signatures do not: there are none, and a signature copied from a real
// run names another event.
func TestForgedRunIsNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	s, path := openTemp(t)
	s.SetSigner("alice", o.signer(t, "alice"), nil)
	real := createRun(t, s, "erp")
	appendAll(t, s, real, 0, failoverEvents(engine.OutcomeSucceeded))
	s.Close()

	a := attack(t, path)
	var head int64
	var prev string
	if err := a.db.QueryRow(`SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`).Scan(&head, &prev); err != nil {
		t.Fatal(err)
	}
	var copied string
	if err := a.db.QueryRow(`SELECT body FROM events WHERE kind = 'signature' AND seq = -14`).Scan(&copied); err != nil {
		t.Fatal(err)
	}
	at := base.Add(-24 * time.Hour).Format(timeFormat)
	a.exec(`INSERT INTO runs (id, runbook, title, file, sha256, mode, operator, host, started_at, rto_target_ns) VALUES (2, 'erp', 'Fail over erp', 'runbooks/erp.yaml', '', 'live', 'alice', 'bastion-1', '` + at + `', 0)`)
	forged := []struct {
		seq        int64
		kind, body string
	}{
		{1, "run.started", `{"runbook":"erp","title":"Fail over erp","file":"runbooks/erp.yaml","sha256":"","source":"","mode":"live","operator":"alice","host":"bastion-1","repli_version":"","sites":null}`},
		{2, "run.ended", `{"outcome":"succeeded","duration_ns":60000000000}`},
		{-2, "signature", copied},
	}
	id := head
	for _, e := range forged {
		id++
		h := eventHash(prev, id, 2, e.seq, at, e.kind, "", e.body)
		if _, err := a.db.Exec(`INSERT INTO events VALUES (?, 2, ?, ?, ?, '', ?, ?, ?)`, id, e.seq, at, e.kind, e.body, prev, h); err != nil {
			t.Fatal(err)
		}
		if e.kind == "run.started" {
			a.exec(fmt.Sprintf(`UPDATE runs SET start_event_id = %d WHERE id = 2`, id))
		}
		if e.kind == "run.ended" {
			a.exec(fmt.Sprintf(`UPDATE runs SET ended_at = '%s', outcome = 'succeeded', end_event_id = %d, end_hash = '%s' WHERE id = 2`, at, id, h))
		}
		prev = h
	}
	a.db.Close()

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, err := r.Verify(ctx, 0); err != nil || !v.OK {
		t.Fatalf("the forged run should pass the chain check (that is the attack): %+v, %v", v, err)
	}
	checks, err := r.CheckSignatures(ctx, 0, o.allowed)
	if err != nil {
		t.Fatal(err)
	}
	f := findings(checks)
	if len(f) != 1 || !strings.Contains(f[0], "run 2 run.ended") || !strings.Contains(f[0], "invalid") || !strings.Contains(f[0], "the signature event names event 15:") {
		t.Fatalf("findings:\n%s", strings.Join(f, "\n"))
	}
}

// TestUnsignedAndUnsigningConsoles: a console with no key records its
// decisions and its run's end as unsigned, and says why; a console that
// does not sign at all leaves them missing. Both are findings.
func TestUnsignedAndUnsigningConsoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	s, _ := openTemp(t)
	s.SetSigner("alice", nil, fmt.Errorf("%w: set REPLI_SIGN_KEY", sshsig.ErrNoKey))
	unsigned := createRun(t, s, "erp")
	appendAll(t, s, unsigned, 0, failoverEvents(engine.OutcomeSucceeded))
	plain, _ := openTemp(t)
	missing := createRun(t, plain, "erp")
	appendAll(t, plain, missing, 0, failoverEvents(engine.OutcomeSucceeded))

	for _, tt := range []struct {
		s      *Store
		status SigStatus
		says   string
	}{{s, SigUnsigned, "no signing key: no SSH key to sign with: set REPLI_SIGN_KEY"}, {plain, SigMissing, "no signature event"}} {
		checks, err := tt.s.CheckSignatures(ctx, 0, o.allowed)
		if err != nil {
			t.Fatal(err)
		}
		if len(checks) != 2 || checks[0].Status != tt.status || checks[1].Status != tt.status || !strings.Contains(checks[1].Problem, tt.says) {
			t.Errorf("checks = %+v, want 2 %s saying %q", checks, tt.status, tt.says)
		}
	}
}

// TestTamperedSignatureEventBreaksChain: a signature event is evidence like
// any other: changing it, or removing it, breaks the chain.
func TestTamperedSignatureEventBreaksChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	s, path := openTemp(t)
	s.SetSigner("alice", o.signer(t, "alice"), nil)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents(engine.OutcomeSucceeded))
	s.Close()
	for _, stmt := range []string{
		`UPDATE events SET body = replace(body, '"principal":"alice"', '"principal":"bob"') WHERE kind = 'signature' AND seq = -5`,
		`DELETE FROM events WHERE kind = 'signature' AND seq = -5`,
	} {
		p := copyTrail(t, path)
		a := attack(t, p)
		a.exec(stmt)
		a.db.Close()
		r, err := OpenReadOnly(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Verify(ctx, 0)
		r.Close()
		if err != nil || v.OK || v.BadID != 6 {
			t.Errorf("after %s: Verify = %+v, %v; want a break at event 6", stmt, v, err)
		}
	}
}

// TestCheckApproval: what the driving console can say about an approval
// as it arrives, before it journals the decision.
func TestCheckApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	d, path := openTemp(t)
	id := createRun(t, d, "erp")
	appendAll(t, d, id, 0, failoverEvents("")[:3])
	for _, tt := range []struct {
		key, as, allowed string
		status           SigStatus
	}{
		{"bob", "bob", o.allowed, SigVerified},
		{"bob", "bob", "", SigUnverified},
		{"mallory", "bob", o.allowed, SigNotAllowed},
		{"", "bob", o.allowed, SigUnsigned},
	} {
		c := console(t, path, time.Now())
		var sg Signer
		if tt.key != "" {
			sg = o.signer(t, tt.key)
		}
		c.SetSigner(tt.as, sg, sshsig.ErrNoKey)
		if _, err := c.RequestApproval(ctx, Approval{RunID: id, Step: "stop-primary", Operator: tt.as}); err != nil {
			t.Fatal(err)
		}
		as, err := d.Approvals(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		status, why, err := CheckApproval(ctx, as[len(as)-1], tt.allowed)
		if err != nil || status != tt.status {
			t.Errorf("%s's key as %s: %s (%s), %v; want %s", tt.key, tt.as, status, why, err, tt.status)
		}
		if tt.status == SigUnverified && !strings.Contains(why, "second person unverified") {
			t.Errorf("unverified approval says %q", why)
		}
	}
}

// TestSigningFailureDoesNotLoseTheDecision: the ssh-agent that holds the
// key goes away mid-run. The decision and the run's end are still
// journaled, as unsigned, with the reason; nothing is lost for want of a
// signature.
func TestSigningFailureDoesNotLoseTheDecision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	for i := 0; ; i++ {
		// The socket file exists once bound, a little before the agent
		// listens: wait until it answers.
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if i == 500 {
			t.Fatal("ssh-agent did not make its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", "-q", o.keys["alice"])
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	sg, err := sshsig.FromAgent(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer sg.Close()

	s, _ := openTemp(t)
	s.SetSigner("alice", sg, nil)
	id := createRun(t, s, "erp")
	evs := failoverEvents(engine.OutcomeSucceeded)
	appendAll(t, s, id, 0, evs[:5]) // the gate decision, signed by the agent's key
	agent.Process.Kill()
	agent.Wait()
	appendAll(t, s, id, 5, evs[5:]) // the run's end, with the agent gone

	checks, err := s.CheckSignatures(ctx, id, o.allowed)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 || checks[0].Status != SigVerified || checks[1].Status != SigUnsigned || !strings.Contains(checks[1].Problem, "signing failed") {
		t.Fatalf("checks = %+v", checks)
	}
	if r, err := s.Run(ctx, id); err != nil || r.Outcome != engine.OutcomeSucceeded {
		t.Errorf("the run's end was not recorded: %+v, %v", r, err)
	}
}

// TestSignAs: the one call a console makes, with $REPLI_SIGN_KEY or
// without any key.
func TestSignAs(t *testing.T) {
	ctx := context.Background()
	o := newOperators(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, tt := range []struct {
		key    string
		says   string
		status SigStatus
	}{{o.keys["alice"], "signing as alice with key SHA256:", SigVerified}, {"", "unsigned: ", SigUnsigned}} {
		t.Setenv(sshsig.KeyEnv, tt.key)
		s, _ := openTemp(t)
		if line := s.SignAs(ctx, "alice"); !strings.HasPrefix(line, tt.says) {
			t.Errorf("SignAs = %q, want %q…", line, tt.says)
		}
		id := createRun(t, s, "erp")
		appendAll(t, s, id, 0, failoverEvents(engine.OutcomeSucceeded))
		checks, err := s.CheckSignatures(ctx, id, o.allowed)
		if err != nil || len(checks) != 2 || checks[1].Status != tt.status {
			t.Errorf("with key %q: checks %+v, %v", tt.key, checks, err)
		}
	}
}
