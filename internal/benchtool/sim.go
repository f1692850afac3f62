package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// simRunbook is the switchover of n domains on the simulated lab: stop them
// all at the primary, start them at the secondary in groups of 50.
func simRunbook(n int) string {
	var doms, groups []string
	for i := range n {
		doms = append(doms, fmt.Sprintf("vm-%04d", i))
	}
	for i := 0; i < n; i += 50 {
		groups = append(groups, "["+strings.Join(doms[i:min(i+50, n)], ", ")+"]")
	}
	return fmt.Sprintf(`version: 1
name: sim-estate
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, domains: [%s]}
  - id: start
    gate: none
    start: {site: secondary, groups: [%s]}
`, strings.Join(doms, ", "), strings.Join(groups, ", "))
}

// simScale is figure 4: the whole console (engine, store, simulated lab
// persisted beside the trail) at 50, 500 and 5,000 domains. The lab runs
// 10,000 times faster than real sites, so what is left is the console's own
// cost; per domain, it should not grow with the estate.
func (b *bench) simScale() error {
	sizes := []int{50, 500, 5000}
	if v := os.Getenv("BENCH_SIM_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("BENCH_SIM_SIZES: %w", err)
			}
			sizes = append(sizes, n)
		}
	}
	per := map[int]float64{}
	for _, n := range sizes {
		rb := filepath.Join(b.dir, fmt.Sprintf("sim-%d.yaml", n))
		if err := os.WriteFile(rb, []byte(simRunbook(n)), 0o644); err != nil {
			return err
		}
		var ds []time.Duration
		var events string
		for i := range b.n {
			db := filepath.Join(b.dir, fmt.Sprintf("sim-%d-%d.db", n, i))
			cmd := exec.Command(b.repli, "run", rb, "--auto-approve", "--plain", "--speed", "10000", "--db", db)
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=", "REPLI_CONFIG=/dev/null")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("repli run (%d simulated domains): %v: %s", n, err, tail(out.String()))
			}
			ds = append(ds, time.Since(t0))
			events = countEvents(db)
		}
		d := median(ds)
		ev, _ := strconv.Atoi(events)
		per[n] = float64(d) / float64(n)
		lin := ""
		if n != sizes[0] {
			lin = fmt.Sprintf("per domain %s of %d's", times(per[n]/per[sizes[0]]), sizes[0])
		}
		b.add(row{fmt.Sprintf("simulated lab switchover, %s domains (%s events)", thousands(int64(n)), events),
			fmt.Sprintf("%s, %s/domain, %s", dur(d), dur(time.Duration(per[n])), rate(float64(ev)/d.Seconds())), "", lin, "linear"})
	}
	return nil
}
