package readiness

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
)

var verdictMark = map[string]string{OK: "✓ ok", Warning: "! warning", Blocker: "✗ blocker", Unknown: "? unknown"}

// Print writes the report for people: the sites, the domains with the
// state each first step expects, the resolved globs, then the warnings and
// the verdict with its blockers. Split brain is said first and loudly.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Readiness of %s (%s)\n\n", rep.Runbook, rep.File)
	for _, sb := range rep.SplitBrain {
		fmt.Fprintf(w, "✗✗ SPLIT BRAIN: %s\n", clean(sb))
	}
	if len(rep.SplitBrain) > 0 {
		fmt.Fprintln(w)
	}
	rep.printSites(w)
	rep.printDomains(w)
	rep.printTargets(w)
	rep.printFiles(w)
	for _, warn := range textfmt.Sorted(rep.Warnings) {
		fmt.Fprintf(w, "! warning: %s\n", clean(warn))
	}
	if rep.Ready {
		n := 0
		for _, s := range rep.Sites {
			n += len(s.Domains)
		}
		fmt.Fprintf(w, "✓ ready: %d site(s) reachable, %d domain(s) checked\n", len(rep.Sites), n)
		return
	}
	fmt.Fprintf(w, "✗ not ready: %d blocker(s)\n", len(rep.Blockers))
	for _, b := range rep.Blockers {
		fmt.Fprintf(w, "  - %s\n", clean(b))
	}
}

// clean makes text from a site (libvirt messages, domain names) safe to
// print: no control characters reach the terminal.
func clean(s string) string { return safetext.Line(s) }

func (rep *Report) printSites(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tREACHABLE\tHOST\tLIBVIRT\tHYPERVISOR\tURI")
	for _, s := range rep.Sites {
		if !s.Reachable {
			fmt.Fprintf(tw, "%s\t✗ no\t-\t-\t-\t%s\n", s.Name, clean(s.URI))
			continue
		}
		fmt.Fprintf(tw, "%s\t✓ yes\t%s\t%s\t%s %s\t%s\n", s.Name, clean(s.Info.Hostname), clean(s.Info.LibvirtVersion),
			clean(s.Info.Hypervisor), clean(s.Info.HypervisorVersion), clean(s.URI))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func (rep *Report) printDomains(w io.Writer) {
	hosts := false // a column only when a site has several hosts
	for _, s := range rep.Sites {
		seen := map[string]bool{}
		for _, d := range s.Domains {
			if d.Host != "" {
				seen[d.Host] = true
			}
		}
		hosts = hosts || len(seen) > 1
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "SITE\tDOMAIN\tPRESENT\tSTATE\tFIRST STEP\tEXPECTS\tVERDICT"
	if hosts {
		head = "SITE\tDOMAIN\tPRESENT\tSTATE\tHOST\tFIRST STEP\tEXPECTS\tVERDICT"
	}
	fmt.Fprintln(tw, head)
	for _, s := range rep.Sites {
		for _, d := range s.Domains {
			present, state := "? unknown", "-"
			if s.Reachable {
				switch {
				case d.Present:
					present, state = "✓ yes", string(d.State)
				case d.Verdict == OK:
					present, state = "· to define", "-"
				default:
					present, state = "✗ missing", "-"
				}
			}
			if hosts {
				state += "\t" + textfmt.OrHyphen(clean(d.Host))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, clean(d.Name), present, state, d.Step, textfmt.OrHyphen(d.Expects), verdictMark[d.Verdict])
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printTargets lists each glob or "all" with the domains it matches now.
func (rep *Report) printTargets(w io.Writer) {
	if len(rep.Targets) == 0 {
		return
	}
	fmt.Fprintln(w, "Targets resolved now (the step resolves them again when it runs)")
	for _, r := range rep.Targets {
		var what string
		switch {
		case !r.Known:
			what = "? unknown: the site does not answer"
		case len(r.Domains) == 0:
			what = "✗ matches no domain"
		default:
			what = fmt.Sprintf("%d: %s", len(r.Domains), clean(strings.Join(r.Domains, ", ")))
		}
		for i, l := range textfmt.Wrap(r.Step+": "+r.Target+" → "+what, 76) {
			if i > 0 {
				l = "    " + l
			}
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintln(w)
}
