package crashcampaign

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// execution is one run of a counted command, as count.sh recorded it.
type execution struct {
	Step, PID string
	Ended     bool
	// Overlapped: another execution of the same step started while this
	// one had not ended, and this one did end afterwards: two copies ran at
	// once.
	Overlapped bool
}

// readCounter parses count.sh's file: "start STEP PID" and "end STEP PID".
func readCounter(path string) ([]*execution, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the counter file: %w", err)
	}
	defer f.Close()
	var all []*execution
	running := map[string]*execution{} // pid → execution not ended yet
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		switch fs[0] {
		case "start":
			x := &execution{Step: fs[1], PID: fs[2]}
			all = append(all, x)
			running[x.PID] = x
		case "end":
			x := running[fs[2]]
			if x == nil {
				continue
			}
			x.Ended = true
			delete(running, fs[2])
			// Did another copy of the step start while x ran?
			for _, y := range all {
				if y != x && y.Step == x.Step && startedWhile(all, x, y) {
					x.Overlapped = true
				}
			}
		}
	}
	return all, sc.Err()
}

// startedWhile: y started after x in the file and x was still running then
// (x ended only now, so any later start is during x).
func startedWhile(all []*execution, x, y *execution) bool {
	ix, iy := -1, -1
	for i, e := range all {
		if e == x {
			ix = i
		}
		if e == y {
			iy = i
		}
	}
	return iy > ix
}

// counterFindings: commands whose completed runs number more than one, or
// that ran beside themselves, and executions with no intent in the trail.
func counterFindings(execs []*execution, intents map[string]int) (twice, unrecorded []string) {
	ended := map[string]int{}
	starts := map[string]int{}
	for _, x := range execs {
		starts[x.Step]++
		if x.Ended {
			ended[x.Step]++
		}
		if x.Overlapped {
			twice = append(twice, fmt.Sprintf("step %s: pid %s ran while another copy of the command ran", x.Step, x.PID))
		}
	}
	for step, n := range ended {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("step %s: the command ran to its end %d times", step, n))
		}
	}
	for step, n := range starts {
		if n > intents[step] {
			unrecorded = append(unrecorded, fmt.Sprintf("step %s: %d execution(s) but %d intent(s) in the trail", step, n, intents[step]))
		}
	}
	return twice, unrecorded
}
