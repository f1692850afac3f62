package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The console's own cost (figure 3): the 500-domain switchover of the
// libvirt section run in the full-screen console against --plain, both in
// a real 80×24 pseudo-terminal, with the bytes each writes to it; the bytes
// per second the console writes while it waits at a gate and nobody
// types; and View() at a large estate (a Go benchmark of the ui package).

const (
	ttyCols, ttyRows = 80, 24
	endMarker        = "q/enter"   // the footer of an ended run
	gateMarker       = "y proceed" // the footer of a confirmation gate
)

// termEnv is the environment of a program in the benchmark's terminal: an
// xterm with colours (what an operator has), no configuration, no trail
// but the one named.
func termEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "NO_COLOR", "TERM", "COLORTERM", "REPLI_DB", "REPLI_CONFIG", "REPLI_REPLICA", "TMUX", "COLUMNS", "LINES":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TERM=xterm-256color", "COLORTERM=truecolor", "REPLI_CONFIG=/dev/null")
}

// consoleRun is one repli run in the terminal: its wall time, from start
// until the program exited (the full-screen console is left with q as soon
// as it shows the run ended), and the bytes it wrote to the terminal.
type consoleRun struct {
	wall  time.Duration
	bytes int64
}

// runInTerm runs repli with args in an 80×24 terminal until it exits; a
// full-screen run is left with q once its end is on the screen.
func (b *bench) runInTerm(fullScreen bool, args ...string) (consoleRun, error) {
	t0 := time.Now()
	t, err := startTerm(termEnv(), ttyCols, ttyRows, b.repli, args...)
	if err != nil {
		return consoleRun{}, err
	}
	if fullScreen {
		if err := t.waitFor(endMarker, 5*time.Minute); err != nil {
			t.kill()
			return consoleRun{}, fmt.Errorf("repli %s: %w", strings.Join(args[:1], " "), err)
		}
		if err := t.send("q"); err != nil {
			t.kill()
			return consoleRun{}, err
		}
	}
	if err := t.wait(time.Minute); err != nil {
		return consoleRun{}, fmt.Errorf("repli %s: %w", args[0], err)
	}
	return consoleRun{time.Since(t0), t.bytes()}, nil
}

// tui measures the console in a terminal during the 500-domain switchover,
// idle at a gate, and View() at a large estate.
func (b *bench) tui() error {
	if err := b.tuiSwitchover(); err != nil {
		b.add(row{figure: "console in a terminal during the switchover", repli: "not measured: " + err.Error()})
	}
	if err := b.gateIdle(); err != nil {
		b.add(row{figure: "console idle at a gate", repli: "not measured: " + err.Error()})
	}
	if err := b.viewBench(); err != nil {
		b.add(row{figure: "View() at a large estate", repli: "not measured: " + err.Error()})
	}
	return nil
}

// tuiSwitchover runs the libvirt section's switchover in a terminal four
// ways, interleaved: --plain and the full-screen console, each with the
// engine in a process of its own (the default on a terminal: the console
// attaches to it and follows the trail) and inside the console
// (--foreground).
func (b *bench) tuiSwitchover() error {
	n := envInt("BENCH_DOMAINS", 500)
	lab, err := b.libvirtSites(n)
	if err != nil {
		return err
	}
	defer lab.stop()
	type variant struct {
		name       string
		fullScreen bool
		flags      []string
		runs       []consoleRun
	}
	vs := []*variant{
		{name: "plain", flags: []string{"--plain"}},
		{name: "tui", fullScreen: true},
		{name: "plain-fg", flags: []string{"--plain", "--foreground"}},
		{name: "tui-fg", fullScreen: true, flags: []string{"--foreground"}},
	}
	for i := range b.n {
		for _, v := range vs {
			if err := reset(lab.p.conn, lab.s.conn, lab.names); err != nil {
				return fmt.Errorf("reset the sites: %w", err)
			}
			db := filepath.Join(b.dir, fmt.Sprintf("tui-%s-%d.db", v.name, i))
			args := append([]string{"run", lab.runbook, "--auto-approve", "--db", db, "--no-replica", "benchmark"}, v.flags...)
			r, err := b.runInTerm(v.fullScreen, args...)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			v.runs = append(v.runs, r)
		}
	}
	med := func(v *variant) (time.Duration, float64) {
		var ds []time.Duration
		var bps []time.Duration // bytes per second, as a duration to reuse median
		for _, r := range v.runs {
			ds = append(ds, r.wall)
			bps = append(bps, time.Duration(float64(r.bytes)/r.wall.Seconds()))
		}
		return median(ds), float64(median(bps))
	}
	plain, plainBps := med(vs[0])
	tui, tuiBps := med(vs[1])
	plainFg, plainFgBps := med(vs[2])
	tuiFg, tuiFgBps := med(vs[3])
	b.add(row{fmt.Sprintf("%d-domain switchover (libvirt section) in the full-screen console, 80×24 terminal, engine detached (the default); %s to the terminal", n, kbps(tuiBps)),
		dur(tui), fmt.Sprintf("`--plain`, the same terminal: %s (%s)", dur(plain), kbps(plainBps)), times(float64(tui)/float64(plain)) + " plain", "≤ 1.2× plain"})
	b.add(row{fmt.Sprintf("the same, engine inside the console (`--foreground`); %s to the terminal", kbps(tuiFgBps)),
		dur(tuiFg), fmt.Sprintf("`--plain --foreground`: %s (%s)", dur(plainFg), kbps(plainFgBps)), times(float64(tuiFg)/float64(plainFg)) + " plain", "≤ 1.2× plain"})
	return nil
}

func kbps(bps float64) string {
	if bps < 1024 {
		return fmt.Sprintf("%.0f B/s", bps)
	}
	return fmt.Sprintf("%.1f KB/s", bps/1024)
}

// gateRunbook waits at a confirmation gate before it stops anything, on the
// simulated lab.
func gateRunbook() string {
	return `version: 1
name: bench-gate
title: Wait at a gate
rto: 1h
sites:
  primary: {uri: "sim://primary"}
  secondary: {uri: "sim://secondary"}
steps:
  - id: stop
    title: Stop the web tier at the primary site
    gate: confirm
    rto: start
    shutdown: {site: primary, domains: [web-01, web-02]}
  - id: start
    title: Start it at the secondary site
    rto: stop
    start: {site: secondary, domains: [web-01, web-02]}
`
}

// gateIdle opens the full-screen console on a run that waits at a
// confirmation gate and counts the bytes written to the terminal over
// BENCH_IDLE seconds (10) while nobody types, with the engine detached (the
// default) and inside the console.
func (b *bench) gateIdle() error {
	rb := filepath.Join(b.dir, "gate.yaml")
	if err := os.WriteFile(rb, []byte(gateRunbook()), 0o644); err != nil {
		return err
	}
	idle := time.Duration(envInt("BENCH_IDLE", 10)) * time.Second
	for _, v := range []struct {
		name, figure string
		flags        []string
	}{
		{"detached", "console idle at a confirmation gate, 80×24, engine detached (the default), nobody typing", nil},
		{"fg", "the same, engine inside the console (`--foreground`)", []string{"--foreground"}},
	} {
		db := filepath.Join(b.dir, "gate-"+v.name+".db")
		args := append([]string{"run", rb, "--db", db, "--no-replica", "benchmark"}, v.flags...)
		t, err := startTerm(termEnv(), ttyCols, ttyRows, b.repli, args...)
		if err != nil {
			return err
		}
		if err := t.waitFor(gateMarker, time.Minute); err != nil {
			t.kill()
			stopEngines(db)
			return fmt.Errorf("%s: %w", v.name, err)
		}
		time.Sleep(time.Second) // let the first frames settle
		before := t.bytes()
		time.Sleep(idle)
		n := t.bytes() - before
		// Leave: ctrl+c asks, y quits; the run stays resumable at its gate.
		t.send("\x03")
		time.Sleep(200 * time.Millisecond)
		t.send("y")
		if err := t.wait(30 * time.Second); err != nil && !strings.Contains(err.Error(), "exited with") {
			stopEngines(db)
			return fmt.Errorf("%s: %w", v.name, err)
		}
		stopEngines(db)
		b.add(row{v.figure, fmt.Sprintf("%s (%d bytes in %s)", kbps(float64(n)/idle.Seconds()), n, dur(idle)), "", "", "≤ 1 KB/s"})
	}
	return nil
}

// stopEngines stops the detached engine processes of the trail db (a run
// left at its gate keeps its engine waiting): the processes this benchmark
// started, found by the trail path on their command line.
func stopEngines(db string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), db) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

var benchLine = regexp.MustCompile(`(?m)^(BenchmarkView\S*?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op`)

// viewBench runs the ui package's View() benchmarks (go test -bench) and
// reports a frame's cost.
func (b *bench) viewBench() error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not in PATH: %w", err)
	}
	cmd := exec.Command(goBin, "test", "-run", "^$", "-bench", "^BenchmarkView", "-benchtime", "2s", "./ui/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench ./ui/: %v: %s", err, tail(string(out)))
	}
	got := map[string]time.Duration{}
	for _, m := range benchLine.FindAllStringSubmatch(string(out), -1) {
		ns, _ := strconv.ParseFloat(m[3], 64)
		got[m[1]] = time.Duration(ns)
	}
	for _, f := range viewFigures {
		if d, ok := got[f.bench]; ok {
			b.add(row{f.figure, dur(d) + " a frame", "", "", f.goal})
		}
	}
	if len(got) == 0 {
		return fmt.Errorf("no BenchmarkView result in: %s", tail(string(out)))
	}
	return nil
}

var viewFigures = []struct{ bench, figure, goal string }{
	{"BenchmarkViewLargeEstate", "`View()`, 160×48, a step acting on 5,000 domains (`BenchmarkViewLargeEstate`)", "≤ 5 ms"},
	{"BenchmarkViewScale", "`View()`, 80×24, 500 steps, 5,000 domains, 10,000 log lines (`BenchmarkViewScale`)", "≤ 5 ms"},
}
