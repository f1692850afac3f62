package main

import (
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

// TestVolumeRunbookParses keeps the volume figure's runbook valid as the
// format moves, with both verifications it is run with.
func TestVolumeRunbookParses(t *testing.T) {
	t.Parallel()
	for _, verify := range []string{runbooks.VerifyNone, runbooks.VerifySHA256} {
		src := volumeRunbook("qemu+unix:///session?socket=/tmp/p", "qemu+unix:///session?socket=/tmp/s", "bench.raw", verify)
		rb, diags := runbooks.Parse("volume.yaml", []byte(src))
		if rb == nil || diags.HasErrors() {
			t.Fatalf("verify %s: %v\n%s", verify, diags, src)
		}
		c := runbooks.CopyOf(rb.Steps[0])
		if c == nil || c.From != "primary" || c.To != "secondary" || c.Verify != verify || c.Overwrite {
			t.Fatalf("verify %s: the copy is %+v", verify, c)
		}
	}
}
