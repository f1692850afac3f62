package evidence

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/store"
)

// Anchor is a hash written down elsewhere at the end of a run
// (EVENT_ID:HASH), against which a trail cut at its end or rewritten whole
// is caught.
type Anchor struct {
	Text string
	ID   int64
	Hash string
}

// ParseAnchor reads EVENT_ID:HASH as printed at the end of a run.
func ParseAnchor(s string) (Anchor, error) {
	id, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		return Anchor{}, fmt.Errorf("--anchor %q: write it as EVENT_ID:HASH, as printed at the end of a run", s)
	}
	return Anchor{Text: s, ID: n, Hash: hash}, nil
}

// TrailCheck is repli verify's answer: the chain, the anchors and, with an
// allowed signers file, every signature. Its JSON keys are a contract for
// scripts: add, never rename.
type TrailCheck struct {
	store.Verification
	AnchorErrors      []string               `json:"anchor_errors,omitempty"`
	SignatureFindings []store.SignatureCheck `json:"signature_findings,omitempty"`

	runID          int64
	anchors        []string
	allowedSigners string
	signatures     int
}

// CheckTrail checks the anchors and, when allowedSigners names a file,
// the signatures of runID (0: of every run) against the trail whose chain
// verified as v.
func CheckTrail(ctx context.Context, s *store.Store, v store.Verification, runID int64, anchors []Anchor, allowedSigners string) (TrailCheck, error) {
	c := TrailCheck{Verification: v, runID: runID, allowedSigners: allowedSigners}
	for _, a := range anchors {
		c.anchors = append(c.anchors, a.Text)
		if err := s.CheckAnchor(ctx, a.ID, a.Hash); err != nil {
			c.AnchorErrors = append(c.AnchorErrors, err.Error())
		}
	}
	if allowedSigners == "" {
		return c, nil
	}
	checks, err := s.CheckSignatures(ctx, runID, allowedSigners)
	if err != nil {
		return c, err
	}
	c.signatures = len(checks)
	for _, sc := range checks {
		if sc.Finding() {
			c.SignatureFindings = append(c.SignatureFindings, sc)
		}
	}
	return c, nil
}

// Passed reports whether the chain verifies, every anchor matches and no
// signature is wanting.
func (c TrailCheck) Passed() bool {
	return c.Verification.OK && len(c.AnchorErrors) == 0 && len(c.SignatureFindings) == 0
}

// WriteText writes the check for a terminal.
func (c TrailCheck) WriteText(out io.Writer) {
	v := c.Verification
	switch {
	case v.Break == store.BreakDamaged:
		fmt.Fprintf(out, "DAMAGED: %s\n", v.Problem)
	case v.OK:
		fmt.Fprintf(out, "ok: %d events, chain intact; head event %d hash %s\n", v.Events, v.HeadID, v.Head)
		if c.runID != 0 {
			fmt.Fprintf(out, "run %d: %d events\n", c.runID, v.RunCount)
		}
		if len(c.anchors) > 0 && len(c.AnchorErrors) == 0 {
			fmt.Fprintf(out, "anchors match: %s\n", strings.Join(c.anchors, ", "))
		}
	default:
		fmt.Fprintf(out, "TAMPERED (%s): %s\n", safetext.Line(string(v.Break)), safetext.Line(v.Problem))
	}
	for _, e := range c.AnchorErrors {
		fmt.Fprintf(out, "TAMPERED: %s\n", safetext.Line(e))
	}
	if c.allowedSigners == "" {
		return
	}
	for _, sc := range c.SignatureFindings {
		fmt.Fprintf(out, "SIGNATURE %s: %s\n", strings.ToUpper(string(sc.Status)), safetext.Line(sc.String()))
	}
	if len(c.SignatureFindings) == 0 {
		fmt.Fprintf(out, "signatures: %d decisions and run ends, each signed by a key %s allows for its operator\n", c.signatures, c.allowedSigners)
	}
}
