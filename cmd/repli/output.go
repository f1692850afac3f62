package main

import (
	"github.com/repli-dr/repli/ui"

	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/safetext"
)

// outputFormat is the value of --output, repli's one convention for commands
// that print data (as kubectl's and virsh's --output): text for people, json
// for scripts. --json stays as its alias. -o is not its shorthand: report
// -o FILE names the file it writes, as gcc and curl do.
type outputFormat struct{ v string }

var outputFormats = []string{"text", "json"}

func (o *outputFormat) String() string {
	if o.v == "" {
		return "text"
	}
	return o.v
}

func (o *outputFormat) Set(s string) error {
	for _, f := range outputFormats {
		if s == f {
			o.v = s
			return nil
		}
	}
	return fmt.Errorf("use text or json, not %q", s)
}

func (o *outputFormat) Type() string { return "text|json" }

// json tells whether the command must print JSON.
func (o *outputFormat) json() bool { return o.v == "json" }

// jsonAlias is --json: --output json under its older name.
type jsonAlias struct{ o *outputFormat }

func (j jsonAlias) String() string { return strconv.FormatBool(j.o.json()) }
func (j jsonAlias) Type() string   { return "bool" }
func (j jsonAlias) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("--json takes no value (or true/false), not %q", s)
	}
	j.o.v = "text"
	if b {
		j.o.v = "json"
	}
	return nil
}

// outputFlag adds --output text|json and its alias --json to a command that
// prints data, with their completion. Every such command calls it.
func outputFlag(cmd *cobra.Command, o *outputFormat) {
	fl := cmd.Flags()
	fl.Var(o, "output", "output format: text or json (json is a contract for scripts)")
	fl.Var(jsonAlias{o}, "json", "same as --output json")
	fl.Lookup("json").NoOptDefVal = "true"
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// writeJSON writes v as indented JSON with no raw control characters
// (safetext.WriteJSON): the one way every command prints JSON.
func writeJSON(w io.Writer, v any) error { return safetext.WriteJSON(w, v) }

// keysHelp is the terminal UI's keys, for the help of the commands that
// open it: the same words as the screen's own help, from the same key map.
var keysHelp = "\n\nKeys in the terminal UI:\n" + ui.KeyHelp()
