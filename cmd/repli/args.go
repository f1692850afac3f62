package main

import (
	"fmt"
	"strconv"
)

// runIDArg reads a RUN_ID argument.
func runIDArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, withCode(exitUsage, fmt.Errorf("run id %q is not a run number (repli history lists them)", s))
	}
	return id, nil
}
