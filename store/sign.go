package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/sshsig"
)

// KindSignature is the kind of the event the store writes after every
// gate.decided and run.ended of a console that signs (SetSigner): the
// operator's SSH signature over the signed event's place in the chain, or
// why there is none. It is chained like every event, so removing or
// changing one shows; its sequence number is minus the signed event's, so
// that it takes no place in the run's sequence (the engine's numbering is
// untouched) and a run has at most one signature per event.
const KindSignature = "signature"

// Signer signs with an operator's SSH key; *sshsig.Signer is one.
type Signer interface {
	// Sign returns an armored sshsig signature of data, namespace repli.
	Sign(ctx context.Context, data []byte) (string, error)
	// Fingerprint is the key's SHA256 fingerprint.
	Fingerprint() string
}

// Signature is the event of kind KindSignature.
type Signature struct {
	engine.Meta
	// EventID, Seq, SignedKind and Hash name the signed event: its id and
	// hash in the chain (an anchor, EventID:Hash), its place in the run.
	EventID    int64  `json:"event_id"`
	Seq        int64  `json:"seq"`
	SignedKind string `json:"kind"`
	Hash       string `json:"hash"`
	// Principal is the login of the operator whose console signed: the
	// principal an allowed_signers file must allow the key for.
	Principal string `json:"principal"`
	// Key is the fingerprint of the key that signed.
	Key string `json:"key,omitempty"`
	// Signature is the armored sshsig signature of SignedText(run, EventID,
	// Hash), namespace repli. Empty when Unsigned says why.
	Signature string `json:"signature,omitempty"`
	Unsigned  string `json:"unsigned,omitempty"`
	// Approval is, for a decision by an operator other than Principal (an
	// approval sent with repli approve), that operator's own signature.
	Approval *SignedApproval `json:"approval,omitempty"`
}

// Kind is KindSignature.
func (*Signature) Kind() string { return KindSignature }

// SignedApproval is an approver's signature, made at their own console
// when they sent the approval, over ApprovalText: the gate they answered.
type SignedApproval struct {
	ID        int64  `json:"id"`
	Operator  string `json:"operator"`
	GateEvent int64  `json:"gate_event"`
	GateHash  string `json:"gate_hash"`
	Statement string `json:"statement"`
	Key       string `json:"key,omitempty"`
	Signature string `json:"signature,omitempty"`
	Unsigned  string `json:"unsigned,omitempty"`
}

// SignedText is what is signed for an event: the run and the event's
// anchor (id:hash, as repli verify --anchor takes it). The hash covers the
// event's run, sequence, time, kind and content, and everything before it
// in the chain. An auditor rebuilds it with printf 'repli run %d event
// %d:%s\n'.
func SignedText(runID, eventID int64, hash string) []byte {
	return fmt.Appendf(nil, "repli run %d event %d:%s\n", runID, eventID, hash)
}

// ApprovalText is what an approver signs: the gate it answers, by the
// gate.opened event's anchor, so that the approval counts for that gate
// only.
func ApprovalText(runID int64, step string, gateEvent int64, gateHash, operator string) []byte {
	return fmt.Appendf(nil, "repli run %d approve step %q at gate event %d:%s as %q\n", runID, step, gateEvent, gateHash, operator)
}

// signing is what SetSigner set.
type signing struct {
	on        bool
	principal string
	signer    Signer
	why       string
}

// SetSigner makes this console sign: from now on every gate.decided and
// run.ended it appends is followed, in the same transaction, by a signature
// event; and every approval it sends (RequestApproval) carries its
// signature. principal is the operator's login, as allowed_signers names
// them. With no signer (why says why: sshsig.FromEnv's error), the
// signature events say the decision or run is unsigned. A signature that
// fails (agent gone, key removed) is recorded as unsigned with the reason:
// a decision is never lost for want of a signature.
func (s *Store) SetSigner(principal string, sg Signer, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.sign.signer.(io.Closer); ok {
		c.Close()
	}
	s.sign = signing{on: true, principal: principal, signer: sg}
	if sg == nil {
		s.sign.why = "no signing key"
		if why != nil {
			s.sign.why = "no signing key: " + why.Error()
		}
	}
}

// SignAs makes this console sign as principal (the operator's login) with
// the key sshsig.FromEnv finds: $REPLI_SIGN_KEY, else the first key of the
// ssh-agent. Without one, decisions and the run's end are recorded as
// unsigned, with why. It returns a line to show the operator, saying which.
// Call it once after Open, before the run starts (run, resume) or before
// RequestApproval (approve).
func (s *Store) SignAs(ctx context.Context, principal string) string {
	sg, err := sshsig.FromEnv(ctx)
	if err != nil {
		s.SetSigner(principal, nil, err)
		return fmt.Sprintf("unsigned: decisions and the run's end are recorded as unsigned (%v)", err)
	}
	s.SetSigner(principal, sg, nil)
	return fmt.Sprintf("signing as %s with key %s (%s)", principal, sg.Fingerprint(), sg.Source())
}

func (s *Store) signingState() signing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sign
}

// signEvent makes the signature of one event, or says why there is none.
func (g signing) signEvent(ctx context.Context, data []byte) (sig, key, unsigned string) {
	if g.signer == nil {
		return "", "", g.why
	}
	armored, err := g.signer.Sign(ctx, data)
	if err != nil {
		return "", "", "signing failed: " + err.Error()
	}
	return armored, g.signer.Fingerprint(), ""
}

// appendSignature writes the signature event of the event just appended
// (id, hash) in tx, when this console signs.
func (s *Store) appendSignature(ctx context.Context, tx *sql.Tx, ev engine.Event, m *engine.Meta, at string, id int64, hash string) error {
	g := s.signingState()
	if !g.on {
		return nil
	}
	sig := &Signature{EventID: id, Seq: m.Seq, SignedKind: ev.Kind(), Hash: hash, Principal: g.principal}
	sig.Signature, sig.Key, sig.Unsigned = g.signEvent(ctx, SignedText(m.RunID, id, hash))
	if d, ok := ev.(*engine.GateDecided); ok && d.Operator != g.principal {
		a, err := signedApproval(ctx, tx, m.RunID, d.Step, d.Operator)
		if err != nil {
			return err
		}
		sig.Approval = a
	}
	body, err := json.Marshal(sig)
	if err != nil {
		return err
	}
	if _, _, err := appendTx(ctx, tx, m.RunID, -m.Seq, at, KindSignature, stepOf(ev), string(body)); err != nil {
		return fmt.Errorf("record signature: %w", err)
	}
	return nil
}

// signedApproval is the approval operator sent for step with repli
// approve, with its signature, for a decision journaled on their behalf.
func signedApproval(ctx context.Context, tx *sql.Tx, runID int64, step, operator string) (*SignedApproval, error) {
	a := &SignedApproval{Operator: operator}
	var sig, unsigned string
	err := tx.QueryRowContext(ctx, `SELECT id, statement, signature, unsigned FROM approvals WHERE run_id = ? AND step = ? AND operator = ? ORDER BY id DESC LIMIT 1`,
		runID, step, operator).Scan(&a.ID, &a.Statement, &sig, &unsigned)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		a.Unsigned = "no approval from " + operator + " was sent with repli approve"
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("read approval: %w", err)
	}
	var st approvalSig
	_ = json.Unmarshal([]byte(sig), &st)
	a.GateEvent, a.GateHash, a.Key, a.Signature = st.GateEvent, st.GateHash, st.Key, st.Signature
	a.Unsigned = unsigned
	if a.Signature == "" && a.Unsigned == "" {
		a.Unsigned = "the approval was sent by a console that does not sign"
	}
	return a, nil
}

// approvalSig is what the approvals table's signature column holds.
type approvalSig struct {
	GateEvent int64  `json:"gate_event"`
	GateHash  string `json:"gate_hash"`
	Key       string `json:"key"`
	Signature string `json:"signature"`
}

// signApproval fills in a's statement and signature, when this console
// signs: the gate answered is the step's last gate.opened event.
func (s *Store) signApproval(ctx context.Context, a *Approval) error {
	g := s.signingState()
	if !g.on {
		return nil
	}
	var gate int64
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT id, hash FROM events WHERE run_id = ? AND kind = 'gate.opened' AND step = ? ORDER BY id DESC LIMIT 1`,
		a.RunID, a.Step).Scan(&gate, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the gate of step %s: %w", a.Step, s.explain(err))
	}
	a.Statement = string(ApprovalText(a.RunID, a.Step, gate, hash, a.Operator))
	if g.principal != a.Operator {
		a.Unsigned = fmt.Sprintf("signed by %s's key, not by %s", g.principal, a.Operator)
		return nil
	}
	sig, key, unsigned := g.signEvent(ctx, []byte(a.Statement))
	a.Unsigned = unsigned
	if sig != "" {
		b, _ := json.Marshal(approvalSig{GateEvent: gate, GateHash: hash, Key: key, Signature: sig})
		a.Signature = string(b)
	}
	return nil
}

// Signatures returns a run's signature events, in order.
func (s *Store) Signatures(ctx context.Context, runID int64) ([]*Signature, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, body FROM events WHERE run_id = ? AND kind = ? ORDER BY id`, runID, KindSignature)
	if err != nil {
		return nil, fmt.Errorf("read signatures of run %d: %w", runID, s.explain(err))
	}
	defer rows.Close()
	var out []*Signature
	for rows.Next() {
		var seq int64
		var at, body string
		if err := rows.Scan(&seq, &at, &body); err != nil {
			return nil, err
		}
		sig := &Signature{}
		if err := json.Unmarshal([]byte(body), sig); err != nil {
			return nil, fmt.Errorf("run %d signature %d: %w", runID, seq, err)
		}
		t, _ := time.Parse(timeFormat, at)
		sig.Meta = engine.Meta{RunID: runID, Seq: seq, At: t}
		out = append(out, sig)
	}
	return out, rows.Err()
}
