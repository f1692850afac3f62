// Command crash-campaign kills repli at random moments over the bundled
// runbooks, resumes it until every run ends, and prints what the crashes
// cost (see package crashcampaign). scripts/crash-campaign.sh builds repli
// and runs it.
//
//	go run ./internal/crashcampaign/cmd/crash-campaign -bin bin/repli -cycles 100
//
// Exit status: 0 every figure is zero, 1 a figure is not, 2 the campaign
// could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/repli-dr/repli/internal/crashcampaign"
)

func main() {
	bin := flag.String("bin", "bin/repli", "the repli binary")
	root := flag.String("root", ".", "the repository's root")
	dir := flag.String("dir", "", "working directory, kept for post-mortems (default: a new temporary one)")
	cycles := flag.Int("cycles", 100, "kill/resume cycles (runbooks taken in turn)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the kill moments (printed, to replay a campaign)")
	speed := flag.Float64("speed", 10, "simulated sites' --speed")
	lock := flag.Bool("lock", true, "also run the held-write-lock scenario")
	var holds []time.Duration
	flag.Func("hold", "how long the write lock is held (repeatable; default 4s, 7s and 12s)", func(s string) error {
		d, err := time.ParseDuration(s)
		holds = append(holds, d)
		return err
	})
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *dir == "" {
		d, err := os.MkdirTemp("", "repli-crash-campaign-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash-campaign: make a working directory:", err)
			os.Exit(2)
		}
		*dir = d
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	fmt.Printf("crash campaign: %d cycles, seed %d, speed %g, in %s\n", *cycles, *seed, *speed, *dir)
	cfg := crashcampaign.Config{Bin: abs(*bin), Root: abs(*root), Dir: *dir, Cycles: *cycles, Seed: *seed, Speed: *speed, Log: os.Stdout}
	figs, err := crashcampaign.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash-campaign:", err)
		if figs == nil {
			os.Exit(2)
		}
	}
	fmt.Println()
	figs.Table(os.Stdout)
	clean := figs.Clean()
	if *lock {
		if len(holds) == 0 {
			holds = []time.Duration{4 * time.Second, 7 * time.Second, 12 * time.Second}
		}
		res, err := crashcampaign.HeldLock(ctx, cfg, holds...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash-campaign: held write lock:", err)
			os.Exit(2)
		}
		fmt.Println()
		res.Print(os.Stdout)
		clean = clean && res.Clean()
	}
	if !clean {
		os.Exit(1)
	}
}
