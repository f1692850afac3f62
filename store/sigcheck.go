package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/sshsig"
)

// SigStatus is the verdict on one signed event.
type SigStatus string

// Verdicts. Only SigVerified is not a finding when an allowed_signers file
// is given.
const (
	// SigVerified: signed by a key allowed_signers allows for the operator.
	SigVerified SigStatus = "verified"
	// SigUnverified: a valid signature, but no allowed_signers file was
	// given to say whose key it is.
	SigUnverified SigStatus = "unverified"
	// SigUnsigned: the console recorded that it had no key (or signing
	// failed), and why.
	SigUnsigned SigStatus = "unsigned"
	// SigMissing: no signature event at all: written by a console that does
	// not sign, or the signature was removed.
	SigMissing SigStatus = "missing"
	// SigInvalid: the signature is not of this event, or not a signature.
	SigInvalid SigStatus = "invalid"
	// SigNotAllowed: a valid signature by a key allowed_signers does not
	// allow for the operator who is said to have acted.
	SigNotAllowed SigStatus = "not allowed"
	// SigUnproven: a gate that needed N different people has fewer than N
	// different verified signers.
	SigUnproven SigStatus = "unproven"
)

// SignatureCheck is the verdict on one decision (gate.decided), one run's
// end (run.ended), or one gate's approvers (Kind "approvers": whether a
// gate that needed several people had as many different verified signers).
type SignatureCheck struct {
	RunID   int64  `json:"run_id"`
	EventID int64  `json:"event_id,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Kind    string `json:"kind"`
	Step    string `json:"step,omitempty"`
	// Operator is who the trail says acted: the principal the signature
	// must be allowed for.
	Operator  string    `json:"operator"`
	Principal string    `json:"principal,omitempty"`
	Key       string    `json:"key,omitempty"`
	Status    SigStatus `json:"status"`
	Problem   string    `json:"problem,omitempty"`
}

// Finding reports whether the check is something an auditor must look at.
func (c SignatureCheck) Finding() bool { return c.Status != SigVerified }

func (c SignatureCheck) String() string {
	what := fmt.Sprintf("run %d %s", c.RunID, c.Kind)
	if c.Step != "" {
		what += " of step " + fmt.Sprintf("%q", c.Step)
	}
	if c.EventID != 0 {
		what += fmt.Sprintf(" (event %d)", c.EventID)
	}
	s := fmt.Sprintf("%s by %q: %s", what, c.Operator, c.Status)
	if c.Problem != "" {
		s += ": " + printable(c.Problem)
	}
	return s
}

// printable escapes what a terminal would act on (control characters,
// C1, bidi overrides) in text that comes from the trail: an unsigned
// reason or a statement is data, never an escape sequence.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CheckSignatures checks the signature of every gate decision and of every
// run's end (of run runID, or of all runs when 0). With allowedSigners (an
// OpenSSH allowed_signers file; principal = operator login), each must be
// signed by a key allowed for the operator who is said to have acted: the
// decision's operator, and for a run's end the operator who started,
// resumed or took over the run. Without it, signatures are only checked to
// be valid (SigUnverified): nothing then says whose key signed, and a
// second approver is unverified.
//
// A gate that needed several approvers counts each different principal
// whose approval verified; fewer than needed is a SigUnproven check of kind
// "approvers". Run Verify too: this checks the signatures, not the chain.
func (s *Store) CheckSignatures(ctx context.Context, runID int64, allowedSigners string) ([]SignatureCheck, error) {
	q := `SELECT e.id, e.run_id, e.seq, e.kind, e.step, e.body, e.hash FROM events e JOIN runs r ON r.id = e.run_id
		WHERE e.kind IN ('run.started', 'run.resumed', 'lease.takeover', 'gate.opened', 'gate.decided', 'run.ended', 'finding', 'signature')`
	args := []any{}
	if runID != 0 {
		q += ` AND e.run_id = ?`
		args = append(args, runID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", s.explain(err))
	}
	runs := map[int64]*runSigs{}
	var order []int64
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.id, &e.run, &e.seq, &e.kind, &e.step, &e.body, &e.hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read signatures: %w", err)
		}
		r := runs[e.run]
		if r == nil {
			r = &runSigs{run: e.run, sigs: map[int64]*Signature{}, gates: map[int64]storedEvent{}, enders: map[string]bool{}}
			runs[e.run] = r
			order = append(order, e.run)
		}
		r.add(e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signatures: %w", s.explain(err))
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	c := sigChecker{allowed: allowedSigners}
	var out []SignatureCheck
	for _, id := range order {
		checks, err := c.run(ctx, runs[id])
		if err != nil {
			return nil, err
		}
		out = append(out, checks...)
	}
	return out, nil
}

// runSigs is one run's events that bear on its signatures.
type runSigs struct {
	run    int64
	signed []storedEvent         // gate.decided, run.ended and finding, in order
	sigs   map[int64]*Signature  // by the signed event's seq
	gates  map[int64]storedEvent // gate.opened, by id
	enders map[string]bool       // operators who may end the run
	bad    []SignatureCheck      // signature events that cannot be read
}

func (r *runSigs) add(e storedEvent) {
	switch e.kind {
	case "run.started", "run.resumed":
		var who struct {
			Operator string `json:"operator"`
		}
		_ = json.Unmarshal([]byte(e.body), &who)
		r.enders[who.Operator] = true
	case KindLeaseTakeover:
		var t LeaseTakenOver
		_ = json.Unmarshal([]byte(e.body), &t)
		r.enders[t.To.Operator] = true
	case "gate.opened":
		r.gates[e.id] = e
	case "gate.decided", "run.ended", KindFinding:
		r.signed = append(r.signed, e)
	case KindSignature:
		sig := &Signature{}
		if err := json.Unmarshal([]byte(e.body), sig); err != nil {
			r.bad = append(r.bad, SignatureCheck{RunID: r.run, EventID: e.id, Kind: KindSignature, Status: SigInvalid, Problem: "cannot be read: " + err.Error()})
			return
		}
		r.sigs[-e.seq] = sig
	}
}

type sigChecker struct{ allowed string }

// verify checks one armored signature of data as principal's, and says
// what is wrong with it.
func (c sigChecker) verify(ctx context.Context, principal string, data []byte, armored string) (SigStatus, string, string, error) {
	if c.allowed == "" {
		key, err := sshsig.CheckValid(ctx, data, armored)
		switch {
		case errors.Is(err, sshsig.ErrBadSignature):
			return SigInvalid, "", "the signature does not verify: " + err.Error(), nil
		case err != nil:
			return "", "", "", err
		}
		return SigUnverified, key, "signed by key " + key + "; give --allowed-signers to check whose key it is", nil
	}
	key, err := sshsig.Verify(ctx, c.allowed, principal, data, armored)
	if err == nil {
		return SigVerified, key, "", nil
	}
	if !errors.Is(err, sshsig.ErrBadSignature) {
		return "", "", "", err
	}
	if key, verr := sshsig.CheckValid(ctx, data, armored); verr == nil {
		ps, _ := sshsig.FindPrincipals(ctx, c.allowed, armored)
		who := "no one"
		if len(ps) > 0 {
			who = strings.Join(ps, ", ")
		}
		return SigNotAllowed, key, fmt.Sprintf("signed by key %s, which %s allows for %s, not for %q", key, c.allowed, who, principal), nil
	}
	return SigInvalid, "", "the signature does not verify: " + err.Error(), nil
}

func (c sigChecker) run(ctx context.Context, r *runSigs) ([]SignatureCheck, error) {
	out := append([]SignatureCheck(nil), r.bad...)
	// verified approvers of each step since its gate last opened
	type round struct {
		gate      int64
		verified  map[string]bool
		unchecked []string
	}
	rounds := map[string]*round{}
	for _, e := range r.signed {
		ch, err := c.event(ctx, r, e)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
		if e.kind != "gate.decided" {
			continue
		}
		var d engine.GateDecided
		_ = json.Unmarshal([]byte(e.body), &d)
		gate := r.lastGate(e.step, e.id)
		rd := rounds[e.step]
		if rd == nil || rd.gate != gate || !d.Approved {
			rd = &round{gate: gate, verified: map[string]bool{}}
			rounds[e.step] = rd
		}
		if !d.Approved || d.Needed < 2 {
			continue
		}
		if ch.Status == SigVerified {
			rd.verified[ch.Principal] = true
		} else {
			rd.unchecked = append(rd.unchecked, fmt.Sprintf("%s (%s)", d.Operator, ch.Status))
		}
		if !d.Complete() {
			continue
		}
		if n := len(rd.verified); n < d.Needed {
			problem := fmt.Sprintf("needed %d different approvers; %d verified", d.Needed, n)
			if len(rd.unchecked) > 0 {
				problem += "; not verified: " + strings.Join(rd.unchecked, ", ")
			}
			if c.allowed == "" {
				problem = "second person unverified (no allowed_signers file): " + problem
			}
			out = append(out, SignatureCheck{RunID: r.run, EventID: e.id, Seq: e.seq, Kind: "approvers", Step: e.step,
				Operator: d.Operator, Status: SigUnproven, Problem: problem})
		}
	}
	return out, nil
}

// lastGate is the id of the step's last gate.opened before event before.
func (r *runSigs) lastGate(step string, before int64) int64 {
	var last int64
	for id, g := range r.gates {
		if g.step == step && id < before && id > last {
			last = id
		}
	}
	return last
}

// event checks the signature of one gate.decided, run.ended or finding.
func (c sigChecker) event(ctx context.Context, r *runSigs, e storedEvent) (SignatureCheck, error) {
	ch := SignatureCheck{RunID: r.run, EventID: e.id, Seq: e.seq, Kind: e.kind, Step: e.step}
	var who struct {
		Operator string `json:"operator"`
	}
	_ = json.Unmarshal([]byte(e.body), &who)
	ch.Operator = who.Operator
	sig := r.sigs[e.seq]
	switch {
	case sig == nil:
		ch.Status, ch.Problem = SigMissing, "no signature event: written by a console that does not sign, or its signature was removed"
		return ch, nil
	case sig.EventID != e.id || sig.Hash != e.hash:
		ch.Status, ch.Problem = SigInvalid, fmt.Sprintf("the signature event names event %d:%s, not %d:%s", sig.EventID, sig.Hash, e.id, e.hash)
		return ch, nil
	}
	ch.Principal, ch.Key = sig.Principal, sig.Key
	if e.kind == "run.ended" {
		ch.Operator = sig.Principal
	}
	var err error
	if sig.Signature == "" {
		ch.Status, ch.Problem = SigUnsigned, sig.Unsigned
	} else {
		ch.Status, ch.Key, ch.Problem, err = c.verify(ctx, sig.Principal, SignedText(r.run, e.id, e.hash), sig.Signature)
		if err != nil {
			return ch, err
		}
	}
	switch {
	case e.kind == "run.ended" && !r.enders[sig.Principal] && ch.Status == SigVerified:
		ch.Status, ch.Problem = SigNotAllowed, fmt.Sprintf("signed by %q, who neither started, resumed nor took over the run", sig.Principal)
	case e.kind == KindFinding && ch.Operator != sig.Principal && ch.Status == SigVerified:
		ch.Status, ch.Problem = SigNotAllowed, fmt.Sprintf("a finding by %q signed by %q", ch.Operator, sig.Principal)
	case e.kind == "gate.decided" && ch.Operator != sig.Principal && ch.Status != SigInvalid:
		// Decided on the driving console on behalf of an approver: what
		// counts is the approver's own signature of the gate.
		return c.approval(ctx, r, e, ch, sig.Approval)
	}
	return ch, nil
}

func (c sigChecker) approval(ctx context.Context, r *runSigs, e storedEvent, ch SignatureCheck, a *SignedApproval) (SignatureCheck, error) {
	ch.Principal, ch.Key = "", ""
	switch {
	case a == nil || a.Operator != ch.Operator:
		ch.Status, ch.Problem = SigMissing, fmt.Sprintf("decided for %q on another operator's console, with no approval signed by %q", ch.Operator, ch.Operator)
		return ch, nil
	case a.Signature == "":
		ch.Status, ch.Problem = SigUnsigned, "the approval is unsigned: "+a.Unsigned
		return ch, nil
	}
	g, ok := r.gates[a.GateEvent]
	if want := string(ApprovalText(r.run, e.step, a.GateEvent, a.GateHash, ch.Operator)); !ok || g.hash != a.GateHash || g.step != e.step || a.GateEvent > e.id || a.Statement != want {
		ch.Status, ch.Problem = SigInvalid, fmt.Sprintf("the approval signs %q, which is not this run's gate of step %q", a.Statement, e.step)
		return ch, nil
	}
	status, key, problem, err := c.verify(ctx, ch.Operator, []byte(a.Statement), a.Signature)
	if err != nil {
		return ch, err
	}
	ch.Status, ch.Key, ch.Problem = status, key, problem
	if status == SigVerified || status == SigUnverified {
		ch.Principal = ch.Operator
	}
	return ch, nil
}

// CheckApproval judges an approval sent with repli approve, as the driving
// console receives it (Approvals), before it counts it: SigVerified when
// its signature verifies for a.Operator against allowedSigners; with no
// allowedSigners, SigUnverified for a valid signature (show: second person
// unverified); SigUnsigned, SigInvalid or SigNotAllowed otherwise. The
// string says why, for the operator.
func CheckApproval(ctx context.Context, a Approval, allowedSigners string) (SigStatus, string, error) {
	if a.Signature == "" {
		why := a.Unsigned
		if why == "" {
			why = "sent by a console that does not sign"
		}
		return SigUnsigned, "unsigned approval: " + why, nil
	}
	var st approvalSig
	if err := json.Unmarshal([]byte(a.Signature), &st); err != nil {
		return SigInvalid, "the approval's signature cannot be read", nil
	}
	if want := string(ApprovalText(a.RunID, a.Step, st.GateEvent, st.GateHash, a.Operator)); a.Statement != want {
		return SigInvalid, fmt.Sprintf("the approval signs %q, not this gate", a.Statement), nil
	}
	status, _, problem, err := sigChecker{allowed: allowedSigners}.verify(ctx, a.Operator, []byte(a.Statement), st.Signature)
	if status == SigUnverified {
		problem = "second person unverified (no allowed_signers file): " + problem
	}
	return status, problem, err
}
