package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// legacyEventHash is how every trail before the reflection-free encoding
// was hashed; eventHash must give the same for any event.
func legacyEventHash(prev string, id, runID, seq int64, at, kind, step, body string) string {
	canon, _ := json.Marshal([]any{id, runID, seq, at, kind, step, body})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

func TestCanonicalIsJSONMarshal(t *testing.T) {
	t.Parallel()
	tricky := []string{
		"", "plain", `{"step":"stop","message":"vm-db is shut off"}`, `back\slash "quoted"`,
		"<script>&amp;</script>", "tab\there\nnew\rline\bback\fform", "\x00\x01\x1f\x7f",
		"✓ done · ⏸ waiting", "bad utf8 \xff\xfe end", "\xe2\x80", "line\u2028sep\u2029para",
		"\U0001F600 emoji", "\xed\xa0\x80 surrogate",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		tricky = append(tricky, string(b))
	}
	for _, s := range tricky {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	for i, s := range tricky {
		id, run, seq := int64(i+1), int64(r.IntN(1000)), int64(r.IntN(100)-50)
		prev := legacyEventHash(GenesisHash, id, 1, 1, s, s, s, s)
		want := legacyEventHash(prev, id, run, seq, "2026-11-30T12:00:00.123456789Z", "log", s, s)
		if got := eventHash(prev, id, run, seq, "2026-11-30T12:00:00.123456789Z", "log", s, s); got != want {
			t.Fatalf("eventHash of %q = %s, the old encoding gives %s", s, got, want)
		}
	}
}

// TestOldTrailVerifies writes a trail with the old hash function, as a
// repli before this encoding did, and verifies it with this one.
func TestOldTrailVerifies(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	genTrailWith(t, s, 5, 40, legacyEventHash)
	v, err := s.Verify(t.Context(), 0)
	if err != nil || !v.OK || v.Events != 200 {
		t.Fatalf("Verify of a trail hashed the old way = %+v, %v", v, err)
	}
}

func TestSelfHashedFindsTheChangedEvent(t *testing.T) {
	t.Parallel()
	var evs []storedEvent
	prev := GenesisHash
	for i := range 5000 {
		e := storedEvent{id: int64(i + 1), run: 1, seq: int64(i + 1), at: "t", kind: "log", body: `{"n":1}`, prevHash: prev}
		e.hash = eventHash(prev, e.id, e.run, e.seq, e.at, e.kind, e.step, e.body)
		prev = e.hash
		evs = append(evs, e)
	}
	evs[3777].body = `{"n":2}`
	for _, workers := range []int{1, 2, 7} {
		ok := selfHashed(evs, workers)
		for i, good := range ok {
			if good != (i != 3777) {
				t.Fatalf("workers=%d: event %d self-hash ok=%v", workers, i+1, good)
			}
		}
	}
}
