package catalog

import (
	"path/filepath"
	"testing"

	"github.com/repli-dr/repli/runbooks/examples"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good, _, err := Validate(examples.Names()[0], nil)
	if err != nil || !good.OK || good.Steps == 0 || len(good.Sites) == 0 || good.File == "" {
		t.Errorf("a bundled runbook: %+v, %v", good, err)
	}
	bad, diags, err := Validate(filepath.Join("..", "..", "testdata", "runbooks", "bad", "agent-false.yaml"), nil)
	if err != nil || bad.OK || !diags.HasErrors() || len(bad.Diagnostics) != len(diags) || bad.Diagnostics[0].Line == 0 {
		t.Errorf("a bad runbook: %+v, %v", bad, err)
	}
	missing, _, err := Validate("no-such-runbook", nil)
	if err == nil || missing.OK || len(missing.Diagnostics) != 1 || missing.Diagnostics[0].Severity != "error" {
		t.Errorf("a missing runbook: %+v, %v", missing, err)
	}
}
