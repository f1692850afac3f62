package engine_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

// TestEveryKindOnTheLab runs one of each step kind against the simulated
// lab and checks what each did to the sites.
func TestEveryKindOnTheLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	xml := filepath.Join(dir, "new-01.xml")
	if err := os.WriteFile(xml, []byte("<domain type='kvm'><name>new-01</name></domain>"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "backup.sql")
	if err := os.WriteFile(fresh, []byte("dump"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	src := fmt.Sprintf(`version: 1
name: kinds
vars:
  web: [web-01, web-02, web-03]
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
  - id: pause
    suspend: {site: primary, domains: [db-01]}
  - id: paused
    check: {site: primary, domains: [db-01], state: paused}
  - id: unpause
    resume: {site: primary, domains: [db-01]}
  - id: snap
    snapshot: {site: primary, domains: [db-01], name: before}
  - id: kill-web
    gate: confirm
    destroy: {site: primary, domains: "web-*"}
  - id: back
    snapshot: {site: primary, domains: [db-01], name: before, action: revert}
  - id: drop-snap
    snapshot: {site: primary, domains: [db-01], name: before, action: delete}
  - id: copy
    define: {site: secondary, copy_from: primary, domains: [db-01]}
  - id: define-new
    define: {site: secondary, xml: %q}
  - id: start-web
    start: {site: secondary, domains: "${web}", max_parallel: 2, wait: agent}
  - id: agents
    check: {site: secondary, domains: "web-*", agent: true}
  - id: autostart
    autostart: {site: secondary, domains: "web-*", enabled: true}
  - id: port
    check: {tcp: %q}
  - id: backup-fresh
    check: {file: %q, max_age: 1h}
  - id: true
    check: {command: ["true"]}
  - id: settle
    wait: 1s
  - id: until-up
    wait: {until: {site: secondary, domains: [web-01], state: running}, timeout: 1m}
  - id: drop-new
    undefine: {site: secondary, domains: [new-01]}
  - id: only-in-disaster
    modes: [disaster]
    destroy: {site: secondary, domains: all}
`, xml, ln.Addr().String(), fresh)
	rb := mustParse(t, "kinds.yaml", src)
	h := newHarness(t, rb, true)
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		end := h.journal.find("run.ended")
		t.Fatalf("outcome %s err %v: %s", outcome, err, end[0].(*engine.RunEnded).Reason)
	}
	ctx := context.Background()
	for _, c := range []struct {
		site, dom string
		want      engine.DomainState
	}{
		{"primary", "db-01", engine.StateRunning}, // resumed, then reverted to its running snapshot
		{"primary", "web-01", engine.StateShutoff},
		{"secondary", "web-03", engine.StateRunning},
	} {
		if got := h.domainState(c.site, c.dom); got != c.want {
			t.Errorf("%s/%s is %s, want %s", c.site, c.dom, got, c.want)
		}
	}
	if !h.lab.Site("secondary").Autostart("web-02") {
		t.Error("autostart was not set on secondary/web-02")
	}
	if _, err := h.lab.Site("secondary").DomainState(ctx, "new-01"); err == nil {
		t.Error("new-01 is still defined after undefine")
	}
	st := h.stepStates()
	if st["only-in-disaster"] != engine.StepSkipped {
		t.Errorf("a disaster-only step ran in test mode: %s", st["only-in-disaster"])
	}
	// The glob was resolved against the live list, and logged.
	var resolved bool
	for _, ev := range h.journal.find("log") {
		if strings.Contains(ev.(*engine.Logged).Message, "web-* at primary: web-01, web-02, web-03") {
			resolved = true
		}
	}
	if !resolved {
		t.Error("the glob's resolution was not logged")
	}
}
