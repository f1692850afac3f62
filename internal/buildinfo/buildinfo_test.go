package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestReadPrefersWhatTheMakefileSet(t *testing.T) {
	t.Parallel()
	v := Read("v1.2.3", "abc123")
	if v.Version != "v1.2.3" || v.Commit != "abc123" || v.Go != runtime.Version() {
		t.Errorf("Read = %+v", v)
	}
	if !strings.HasPrefix(v.String(), "v1.2.3 (commit abc123, go") {
		t.Errorf("String = %q", v.String())
	}
	// A test binary has no module version: the fallback names it dev.
	if got := Read("", "").Version; got != "dev" {
		t.Errorf("without ldflags, version %q, want dev", got)
	}
}
