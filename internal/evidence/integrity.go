package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/sshsig"
	"github.com/repli-dr/repli/store"
)

// integrity is section 12: the run's own verification, its anchor, and
// every signature with what re-verifying it with ssh-keygen alone needs.
func (m *mapper) integrity(ctx context.Context, st *store.Store, v store.RunVerification) report.Integrity {
	in := report.Integrity{
		Events: int(v.Events), FirstSeq: 1, LastSeq: v.LastSeq,
		ChainHead: fmt.Sprintf("%d:%s", v.LastID, v.LastHash),
		Verified:  v.OK, VerifiedAt: m.now, AuditFile: filepath.Base(st.Path()),
		Signatures: []report.Signature{},
	}
	if v.OK {
		in.VerifyDetail = fmt.Sprintf("the run's %d events (ids %d to %d) match their hashes and are linked to the events around them; "+
			"the trail's head is event %d, hash %s; repli verify checks the whole trail", v.Events, v.FirstID, v.LastID, v.HeadID, v.Head)
	} else {
		in.VerifyDetail = fmt.Sprintf("%s: %s", v.Break, v.Problem)
	}
	steps := map[int64]string{}
	for _, d := range m.p.Decisions {
		steps[d.Seq] = d.Step
	}
	for _, s := range m.sigs {
		what := s.SignedKind
		switch s.SignedKind {
		case "gate.decided":
			what = "decision at step " + steps[s.Seq]
		case "run.ended":
			what = "end of the run"
		}
		if s.Signature != "" {
			in.Signatures = append(in.Signatures, m.signature(ctx, what, s.Principal, s.Key, s.At, string(store.SignedText(m.run.ID, s.EventID, s.Hash)), s.Signature))
		}
		if a := s.Approval; a != nil && a.Signature != "" {
			armored := approvalArmored(a.Signature)
			in.Signatures = append(in.Signatures, m.signature(ctx, "approval of step "+steps[s.Seq]+" by "+a.Operator, a.Operator, a.Key, s.At, a.Statement, armored))
		}
	}
	return in
}

// approvalArmored is the armored signature inside an approval's signature
// field (a JSON object written by the approver's console).
func approvalArmored(field string) string {
	var v struct {
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal([]byte(field), &v); err == nil && v.Signature != "" {
		return v.Signature
	}
	return field
}

func (m *mapper) signature(ctx context.Context, what, principal, key string, at time.Time, message, armored string) report.Signature {
	sg := report.Signature{What: what, Signer: principal, Principal: principal, Namespace: sshsig.Namespace, Key: key,
		At: at, Message: strings.TrimSuffix(message, "\n"), Armored: strings.TrimSpace(armored)}
	if line, err := allowedSignersLine(principal, armored); err == nil {
		sg.AllowedSigners = line
	}
	if m.opts.CheckSignatures {
		fp, err := sshsig.CheckValid(ctx, []byte(message), armored)
		sg.Valid = err == nil && (key == "" || fp == key)
	}
	return sg
}

// allowedSignersLine is the allowed_signers line for the key an armored
// signature carries (PROTOCOL.sshsig: "SSHSIG", uint32 version, string
// publickey, ...): with it ssh-keygen -Y verify re-checks the signature with
// no repli at hand. It says which key signed; whether that key is the
// operator's is for the reader's own allowed_signers to say.
func allowedSignersLine(principal, armored string) (string, error) {
	body := strings.TrimSpace(armored)
	body = strings.TrimPrefix(body, "-----BEGIN SSH SIGNATURE-----")
	body = strings.TrimSuffix(body, "-----END SSH SIGNATURE-----")
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil || !bytes.HasPrefix(blob, []byte("SSHSIG")) || len(blob) < 14 {
		return "", fmt.Errorf("not an SSH signature")
	}
	rest := blob[10:]
	n := binary.BigEndian.Uint32(rest)
	if uint64(n) > uint64(len(rest)-4) || n < 4 {
		return "", fmt.Errorf("truncated SSH signature")
	}
	pub := rest[4 : 4+n]
	tl := binary.BigEndian.Uint32(pub)
	if uint64(tl) > uint64(len(pub)-4) {
		return "", fmt.Errorf("truncated public key")
	}
	return fmt.Sprintf("%s namespaces=%q %s %s", principal, sshsig.Namespace, pub[4:4+tl], base64.StdEncoding.EncodeToString(pub)), nil
}
