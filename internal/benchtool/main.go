// Command benchtool is make bench: it measures repli against its anchors
// side by side, in one run, and prints one table (Markdown).
//
//	go run ./internal/benchtool -repli bin/repli
//
// Every figure is the median of BENCH_N interleaved repetitions (default 3)
// and is shown with its anchor measured in the same run and the ratio of
// the two: on a shared, noisy machine, only ratios compare across runs.
// Nothing here asserts a time; tests never do.
//
// Environment: BENCH_N repetitions; BENCH_DOMAINS domains of the libvirt
// switchover (500); BENCH_BIG=1 a trail of 1,000,000 events (else
// 100,000); BENCH_VIRSH=0 skips the one-virsh-per-operation loop (about
// 40 s at 500 domains); BENCH_ONLY=libvirt,store,trail,sim,startup,volume,tui
// runs only those sections; BENCH_ONLY=vm (opt-in, about 3 minutes) the
// real-VM switchover; BENCH_IDLE seconds idle at a gate (10);
// BENCH_VOLUME_MIB the size of the volume copied (128).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table.
type row struct {
	figure string
	repli  string
	anchor string
	ratio  string
	goal   string
}

type bench struct {
	repli string // the binary under test
	dir   string // scratch
	n     int    // repetitions
	rows  []row
	notes []string
}

func main() {
	repli := flag.String("repli", "bin/repli", "the repli binary to measure")
	flag.Parse()
	abs, err := filepath.Abs(*repli)
	if err != nil {
		fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		fatal(fmt.Errorf("no repli binary at %s: run make build first (make bench does): %w", abs, err))
	}
	dir, err := os.MkdirTemp("/tmp", "rb-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	b := &bench{repli: abs, dir: dir, n: envInt("BENCH_N", 3)}
	// optIn: run only when BENCH_ONLY names it (it takes minutes).
	sections := []struct {
		name  string
		run   func(*bench) error
		optIn bool
	}{
		{name: "libvirt", run: (*bench).switchover},
		{name: "store", run: (*bench).durable},
		{name: "trail", run: (*bench).trail},
		{name: "sim", run: (*bench).simScale},
		{name: "startup", run: (*bench).startup},
		{name: "volume", run: (*bench).volume},
		{name: "tui", run: (*bench).tui},
		{name: "vm", run: (*bench).vmSwitchover, optIn: true},
	}
	only := os.Getenv("BENCH_ONLY")
	start := time.Now()
	for _, s := range sections {
		named := slices.Contains(strings.Split(only, ","), s.name)
		if (only != "" || s.optIn) && !named {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s…\n", s.name)
		if err := s.run(b); err != nil {
			b.rows = append(b.rows, row{figure: s.name, repli: "not measured: " + err.Error()})
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("repli benchmarks — %s, %d cores, median of %d interleaved runs, %s, total %s\n\n",
		host, numCPU(), b.n, time.Now().UTC().Format("2006-01-02 15:04 UTC"), time.Since(start).Round(time.Second))
	fmt.Println("| figure | repli | anchor | ratio | goal |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range b.rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", cell(r.figure), cell(r.repli), cell(r.anchor), cell(r.ratio), cell(r.goal))
	}
	if len(b.notes) > 0 {
		fmt.Println()
		for _, n := range b.notes {
			fmt.Println("- " + n)
		}
	}
}

// cell keeps a table cell on one line: an error's newlines and pipes
// would break the table.
func cell(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|").Replace(s)
}

func (b *bench) add(r row) { b.rows = append(b.rows, r) }
func (b *bench) note(format string, a ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, a...))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtool:", err)
	os.Exit(1)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// median of the samples.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// dur prints a duration with three significant figures.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

// rate prints a count per second with thousands separators.
func rate(n float64) string { return thousands(int64(n+0.5)) + "/s" }

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// times prints a ratio: 2.31×.
func times(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}
