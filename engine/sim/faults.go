package sim

import (
	"fmt"
	"strings"
)

// FaultKinds lists the faults a lab can inject, with what they do.
var FaultKinds = map[string]string{
	"ignore-shutdown": "SITE/DOMAIN ignores graceful shutdown requests (a guest without ACPI)",
	"fail-start":      "SITE/DOMAIN fails to start",
	"unreachable":     "SITE does not answer at all",
	"no-agent":        "SITE/DOMAIN has no guest agent answering",
	"flaky-start":     "SITE/DOMAIN fails its first start, then starts",
}

// Inject applies a fault written as KIND=SITE/DOMAIN or unreachable=SITE,
// for example ignore-shutdown=primary/app-02.
func (l *Lab) Inject(spec string) error {
	kind, target, ok := strings.Cut(spec, "=")
	if _, known := FaultKinds[kind]; !ok || !known {
		return fmt.Errorf("fault %q: write it as KIND=SITE/DOMAIN with KIND one of ignore-shutdown, fail-start, flaky-start, no-agent, unreachable", spec)
	}
	site, dom, hasDom := strings.Cut(target, "/")
	if site == "" || (kind == "unreachable") == hasDom {
		return fmt.Errorf("fault %q: %s takes %s", spec, kind, strings.Fields(FaultKinds[kind])[0])
	}
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	if kind == "unreachable" {
		s.unreachable = true
		return nil
	}
	d := s.domains[dom]
	if d == nil {
		return fmt.Errorf("fault %q: site %s has no domain %q", spec, site, dom)
	}
	switch kind {
	case "ignore-shutdown":
		d.ignoreShutdown = true
	case "flaky-start":
		d.failStart, d.failStartOnce = "monitor socket did not show up", true
	case "no-agent":
		d.noAgent = true
	case "fail-start":
		d.failStart = "process exited while connecting to monitor: qemu-system-x86_64: could not open disk image"
	}
	return nil
}

// SetReachable makes a site answer again, or stop answering.
func (l *Lab) SetReachable(site string, ok bool) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.unreachable = !ok
}
