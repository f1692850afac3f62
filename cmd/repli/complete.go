package main

// Dynamic shell completion (cobra's __complete): runbook names, run ids,
// step ids, site names and modes. Completion must be quick and must never
// change anything: the audit trail is opened read-only, errors complete
// nothing, and nothing is printed but the candidates.

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
	"github.com/repli-dr/repli/store"
)

const noFiles = cobra.ShellCompDirectiveNoFileComp

// completeRunbook completes a runbook argument: bundled names, names in the
// runbook directories, and .yaml/.yml files and directories from where the
// user is typing.
func completeRunbook(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	useConfigFlag(cmd)
	var out []string
	seen := map[string]bool{}
	add := func(name, desc string) {
		if !seen[name] && strings.HasPrefix(name, toComplete) {
			seen[name] = true
			out = append(out, completion(name, desc))
		}
	}
	for _, dir := range runbookDirs() {
		for _, f := range catalog.Files(dir) {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".yaml"), ".yml")
			add(name, catalog.Title(f, nil, "in "+shortHome(dir)))
		}
	}
	for _, name := range examples.Names() {
		file, src, _ := examples.Source(name)
		add(name, catalog.Title(file, src, "bundled"))
	}
	// Local files: what the shell's file completion would offer, kept to
	// runbooks and directories (with NoSpace, to go on into a directory).
	dir, base := filepath.Split(toComplete)
	entries, _ := os.ReadDir(orDot(dir))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		switch {
		case e.IsDir():
			add(dir+name+"/", "")
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			add(dir+name, "")
		}
	}
	directive := noFiles
	for _, c := range out {
		if strings.HasSuffix(strings.SplitN(c, "\t", 2)[0], "/") {
			directive |= cobra.ShellCompDirectiveNoSpace
		}
	}
	return out, directive
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// completion is one candidate with its description, kept to one line.
func completion(value, desc string) string {
	if desc == "" {
		return value
	}
	return value + "\t" + safetext.Printable(desc)
}

// completeRunIDs completes a run id from the audit trail named by --db (or
// the configured one), newest first, described by runbook, mode and date.
// unfinished keeps only the runs that have not ended (resume, approve).
func completeRunIDs(unfinished bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		runs := completionRuns(cmd)
		sort.Slice(runs, func(i, j int) bool { return runs[i].ID > runs[j].ID })
		var out []string
		for _, r := range runs {
			id := strconv.FormatInt(r.ID, 10)
			if !strings.HasPrefix(id, toComplete) || unfinished && r.EndedAt != nil {
				continue
			}
			state := string(r.Outcome)
			if r.EndedAt == nil {
				state = "not ended"
			}
			out = append(out, completion(id, r.Runbook+" · "+r.Mode+" · "+r.StartedAt.Local().Format("2006-01-02 15:04")+" · "+state))
		}
		return out, noFiles | cobra.ShellCompDirectiveKeepOrder
	}
}

// completionStore opens the audit trail read-only; nil when there is none.
func completionStore(cmd *cobra.Command) (*store.Store, context.Context, context.CancelFunc) {
	useConfigFlag(cmd)
	db, _ := cmd.Flags().GetString("db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	s, err := store.OpenReadOnly(ctx, dbPath(db))
	if err != nil {
		cancel()
		return nil, nil, nil
	}
	return s, ctx, cancel
}

func completionRuns(cmd *cobra.Command) []store.Run {
	s, ctx, cancel := completionStore(cmd)
	if s == nil {
		return nil
	}
	defer cancel()
	defer s.Close()
	runs, _ := s.Runs(ctx)
	return runs
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
	id, err := strconv.ParseInt(runArg, 10, 64)
	if err != nil {
		return nil, noFiles
	}
	s, ctx, cancel := completionStore(cmd)
	if s == nil {
		return nil, noFiles
	}
	defer cancel()
	defer s.Close()
	events, err := s.Events(ctx, id)
	if err != nil {
		return nil, noFiles
	}
	rb, prog, err := engine.LoadRun(events)
	if err != nil {
		return nil, noFiles
	}
	waiting := map[string]bool{}
	if prog.Gate != nil {
		waiting[prog.Gate.Step] = true
	}
	var out []string
	for _, st := range rb.Steps {
		if strings.HasPrefix(st.ID, toComplete) && (len(waiting) == 0 || waiting[st.ID]) {
			desc := st.Title
			if waiting[st.ID] {
				desc = "waiting for approval: " + desc
			}
			out = append(out, completion(st.ID, desc))
		}
	}
	return out, noFiles | cobra.ShellCompDirectiveKeepOrder
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
		uris := map[string]string{}
		var names []string
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
			if id, err := strconv.ParseInt(args[0], 10, 64); err == nil {
				if s, ctx, cancel := completionStore(cmd); s != nil {
					if events, err := s.Events(ctx, id); err == nil {
						rb, _, _ = engine.LoadRun(events)
					}
					s.Close()
					cancel()
				}
			}
		}
		if rb != nil {
			for _, s := range rb.Sites {
				names = append(names, s.Name)
				uris[s.Name] = s.URI
			}
		} else {
			c := configOrEmpty()
			for _, n := range c.SiteNames() {
				site, _, _ := c.Site(n)
				names = append(names, n)
				uris[n] = strings.Join(site.List(), ", ")
			}
			sort.Strings(names)
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n+"=", toComplete) {
				desc := uris[n]
				if desc == "" {
					desc = "no URI yet"
				}
				out = append(out, completion(n+"=", desc))
			}
		}
		return out, noFiles | cobra.ShellCompDirectiveNoSpace
	}
}

// completeModes completes --mode.
func completeModes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	desc := map[string]string{
		"test":     "a drill: the primary site is there",
		"planned":  "a planned switchover",
		"disaster": "the primary site is lost",
		"failback": "back to the primary site",
	}
	var out []string
	for _, m := range runbooks.Modes {
		out = append(out, completion(m, desc[m]))
	}
	return out, noFiles
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
