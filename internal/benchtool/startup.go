package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// startup is figure 5: repli --help and repli validate, against a Go hello
// world built here.
func (b *bench) startup() error {
	dir := filepath.Join(b.dir, "hello")
	if err := mkdir(dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	hello := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-o", hello, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build a hello world: %v: %s", err, out)
	}
	rb := filepath.Join(b.dir, "validate.yaml")
	if err := os.WriteFile(rb, []byte(simRunbook(20)), 0o644); err != nil {
		return err
	}
	n := 15 * b.n
	var th, tv, tw []time.Duration
	for range n { // interleaved
		for _, c := range []struct {
			out  *[]time.Duration
			name string
			args []string
		}{{&th, b.repli, []string{"--help"}}, {&tv, b.repli, []string{"validate", rb}}, {&tw, hello, nil}} {
			d, err := timeCmd(1, c.name, c.args...)
			if err != nil {
				return err
			}
			*c.out = append(*c.out, d)
		}
	}
	w := median(tw)
	b.add(row{"startup: `repli --help`", dur(median(th)), "Go hello world: " + dur(w), times(float64(median(th)) / float64(w)), "≤ 20 ms"})
	b.add(row{"startup: `repli validate` (one runbook)", dur(median(tv)), "Go hello world: " + dur(w), times(float64(median(tv)) / float64(w)), "≤ 20 ms"})
	return nil
}
