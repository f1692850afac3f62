package main

// Dynamic shell completion (cobra's __complete): runbook names, run ids,
// step ids, site names and modes. Completion must be quick and must never
// change anything: the audit trail is opened read-only, errors complete
// nothing, and nothing is printed but the candidates.

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/completion"
	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

const noFiles = cobra.ShellCompDirectiveNoFileComp

// completeRunbook completes a runbook argument (completion.Runbooks).
func completeRunbook(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	useConfigFlag(cmd)
	out, dir := completion.Runbooks(runbookDirs(), toComplete)
	if dir {
		return out, noFiles | cobra.ShellCompDirectiveNoSpace
	}
	return out, noFiles
}

// completeRunIDs completes a run id from the audit trail named by --db (or
// the configured one), newest first, described by runbook, mode and date.
// unfinished keeps only the runs that have not ended (resume, approve).
func completeRunIDs(unfinished bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		return completion.RunIDs(completionRuns(cmd), toComplete, unfinished), noFiles | cobra.ShellCompDirectiveKeepOrder
	}
}

// completionRuns are the runs of the trail named by --db (or the
// configured one).
func completionRuns(cmd *cobra.Command) []store.Run {
	useConfigFlag(cmd)
	db, _ := cmd.Flags().GetString("db")
	return completion.TrailRuns(dbPath(db))
}

// completionEvents are the events of run runArg in that trail.
func completionEvents(cmd *cobra.Command, runArg string) []engine.Event {
	useConfigFlag(cmd)
	db, _ := cmd.Flags().GetString("db")
	return completion.TrailEvents(dbPath(db), runArg)
}

// completeApprove completes approve RUN_ID STEP: the runs that have not
// ended, then the steps of that run waiting for an approval (every step of
// the run when none is waiting).
func completeApprove(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return completeRunIDs(true)(cmd, args, toComplete)
	case 1:
		return completeSteps(cmd, args[0], toComplete)
	}
	return nil, noFiles
}

func completeSteps(cmd *cobra.Command, runArg, toComplete string) ([]string, cobra.ShellCompDirective) {
	return completion.Steps(completionEvents(cmd, runArg), toComplete), noFiles | cobra.ShellCompDirectiveKeepOrder
}

// completeSiteFlag completes --site NAME=: the sites of the runbook given as
// the first argument (or of the run being resumed), else those of the
// config, each as "NAME=" with its current URI as description.
func completeSiteFlag(fromRun bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.Contains(toComplete, "=") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		useConfigFlag(cmd)
		var rb *runbooks.Runbook
		if len(args) > 0 && !fromRun {
			if file, src, err := resolveRunbook(args[0]); err == nil {
				rb, _ = runbooks.Parse(file, src)
				if rb != nil {
					_ = configureSites(rb)
				}
			}
		}
		if len(args) > 0 && fromRun {
			if events := completionEvents(cmd, args[0]); len(events) > 0 {
				rb, _, _ = engine.LoadRun(events)
			}
		}
		var c *config.Config
		if rb == nil {
			c = configOrEmpty()
		}
		return completion.Sites(rb, c, toComplete), noFiles | cobra.ShellCompDirectiveNoSpace
	}
}

// completeModes completes --mode.
func completeModes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return completion.Modes(), noFiles
}

// completeRunbookArgs completes the runbook arguments of validate (several).
func completeRunbookArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return completeRunbook(cmd, nil, toComplete)
}

// completeRepliFlags registers the completion of --db (a file) and --config
// on the root, for every command.
func completeRepliFlags(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
}

// attachCompletions gives every command its argument and flag completion,
// in one place, from the finished command tree.
func attachCompletions(root *cobra.Command) {
	completeRepliFlags(root)
	args := map[string]cobra.CompletionFunc{
		"run": completeRunbook, "plan": completeRunbook, "check": completeRunbook, "config": completeRunbook,
		"validate": completeRunbookArgs,
		"resume":   completeRunIDs(true), "approve": completeApprove,
		"watch": completeRunIDs(false), "show": completeRunIDs(false), "report": completeRunIDs(false),
	}
	for _, c := range root.Commands() {
		if f, ok := args[c.Name()]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = f
		}
		if c.Flags().Lookup("site") != nil {
			_ = c.RegisterFlagCompletionFunc("site", completeSiteFlag(c.Name() == "resume"))
		}
		if c.Flags().Lookup("mode") != nil {
			_ = c.RegisterFlagCompletionFunc("mode", completeModes)
		}
		if c.Flags().Lookup("run") != nil {
			_ = c.RegisterFlagCompletionFunc("run", completeRunIDs(false))
		}
		if c.Flags().Lookup("format") != nil && c.Name() == "report" {
			_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"html", "md", "json"}, noFiles))
		}
		if c.Args == nil || c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 {
			switch c.Name() {
			case "history", "verify", "schema", "version", "demo":
				c.ValidArgsFunction = cobra.NoFileCompletions
			}
		}
	}
}
