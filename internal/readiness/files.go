package readiness

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
)

// File is a local file a check step of the run reads (check: {file: …,
// max_age: …}): a backup, a replication marker. It is read on the console's
// host, where the engine reads it too (check files are local, never at a
// site), and judged against the age the step allows, or, for a recovery
// point (recovery_point: true), the runbook's RPO target when that is
// tighter: a backup older than the RPO would restore more loss than the
// RPO allows.
type File struct {
	Step string `json:"step"`
	// File is the path as the runbook gives it; Path as it is read.
	File    string `json:"file"`
	Path    string `json:"path"`
	Present bool   `json:"present"`
	// ModTime and AgeS are the file's modification time and its age now.
	ModTime time.Time `json:"modified,omitzero"`
	AgeS    float64   `json:"age_s,omitempty"`
	// LimitS is the age allowed: the step's max_age, or the RPO target
	// (Limit says which).
	LimitS        float64 `json:"limit_s"`
	Limit         string  `json:"limit"`
	RecoveryPoint bool    `json:"recovery_point,omitempty"`
	// Before are the steps of the run that come before the check and run
	// a local command: they may bring a newer file.
	Before  []string `json:"before,omitempty"`
	Verdict string   `json:"verdict"`
	Note    string   `json:"note,omitempty"`
}

// judgeFiles judges the file each check step of mode reads, as of now. A
// file older than allowed is a blocker even when an earlier step may bring
// a newer one (the receive step of a hybrid restore): the operator who
// knows it will may start with --force-unready and say so, recorded. A
// file missing is a blocker when nothing before the check may bring it, a
// warning otherwise.
func (rep *Report) judgeFiles(rb *runbooks.Runbook, mode string, done func(string) bool, now time.Time) {
	var before []string
	for _, st := range rb.Steps {
		if ok, _ := st.RunsIn(rb, mode); !ok || done(st.ID) {
			continue
		}
		if st.Kind == runbooks.KindExec {
			before = append(before, st.ID)
		}
		if st.Kind != runbooks.KindCheck || st.Check == nil || st.Check.File == "" {
			continue
		}
		c := st.Check
		f := File{Step: st.ID, File: c.File, Path: localPath(rb, c.File), RecoveryPoint: c.RecoveryPoint, Before: append([]string(nil), before...)}
		limit, what := c.MaxAge, "the "+textfmt.Spelled(c.MaxAge)+" its step allows"
		if limit <= 0 {
			// A checksum check without max_age: any age will do. Its
			// SHA-256 is computed when the step runs, not here: reading
			// a backup of many gigabytes is the step's work.
			what = "any age (its step checks its SHA-256)"
		}
		if c.RecoveryPoint && rb.RPO > 0 && (limit <= 0 || rb.RPO < limit) {
			limit, what = rb.RPO, "the runbook's RPO target of "+textfmt.Spelled(rb.RPO)
		}
		f.LimitS, f.Limit = limit.Seconds(), what
		rep.judgeFile(&f, limit, now)
		rep.Files = append(rep.Files, f)
		if c.SHA256File != "" {
			rep.judgeSums(st.ID, c.SHA256File, localPath(rb, c.SHA256File), f.Before)
		}
	}
}

// judgeSums: the checksum file a check compares its file with must be
// there, or be brought by an earlier step, as the file itself. Only its
// presence is judged here; the step reads it.
func (rep *Report) judgeSums(step, file, path string, before []string) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && len(before) > 0:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("step %s: checksum file %s is not there yet (step %s runs before it and may bring it)", step, file, strings.Join(before, ", ")))
	default:
		rep.Blockers = append(rep.Blockers, fmt.Sprintf("step %s: checksum file %s cannot be read on this host (%v): step %s would fail; receive it with the file it checks, or give the digest itself in sha256", step, file, errors.Unwrap(err), step))
	}
}

func (rep *Report) judgeFile(f *File, limit time.Duration, now time.Time) {
	earlier := ""
	if len(f.Before) > 0 {
		earlier = fmt.Sprintf("step %s runs before it", strings.Join(f.Before, ", "))
	}
	fi, err := os.Stat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && earlier != "":
		f.Verdict, f.Note = Warning, "not there yet; "+earlier+" and may bring it"
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("step %s: file %s is not there yet (%s and may bring it)", f.Step, f.File, earlier))
		return
	case err != nil:
		f.Verdict, f.Note = Blocker, fmt.Sprintf("cannot be read: %v", errors.Unwrap(err))
		rep.Blockers = append(rep.Blockers, fmt.Sprintf("step %s: file %s cannot be read on this host (%v): step %s would fail", f.Step, f.File, errors.Unwrap(err), f.Step))
		return
	}
	age := max(0, now.Sub(fi.ModTime()))
	f.Present, f.ModTime, f.AgeS = true, fi.ModTime().UTC(), age.Seconds()
	if limit <= 0 || age <= limit {
		f.Verdict = OK
		return
	}
	what := "file"
	if f.RecoveryPoint {
		what = "backup"
	}
	msg := fmt.Sprintf("step %s: the %s %s is %s old (modified %s), older than %s: bring a newer one, or start anyway with --force-unready \"the reason\" (recorded)",
		f.Step, what, f.File, textfmt.Duration(age.Round(time.Minute)), f.ModTime.Format(time.RFC3339), f.Limit)
	if earlier != "" {
		msg += "; " + earlier + ": if it brings a newer one, say so in the reason"
	}
	f.Verdict, f.Note = Blocker, fmt.Sprintf("%s old, older than %s", textfmt.Duration(age.Round(time.Minute)), f.Limit)
	rep.Blockers = append(rep.Blockers, msg)
}

// localPath is where the engine reads a check's file: relative paths are
// relative to the runbook's directory, or to the current directory for a
// bundled runbook (the rule of the engine's file check).
func localPath(rb *runbooks.Runbook, p string) string {
	if filepath.IsAbs(p) || rb.File == "" {
		return p
	}
	if _, err := os.Stat(rb.File); err != nil {
		return p
	}
	return filepath.Join(filepath.Dir(rb.File), p)
}

// printFiles lists the files the checks read, with their age and limit.
func (rep *Report) printFiles(w io.Writer) {
	if len(rep.Files) == 0 {
		return
	}
	fmt.Fprintln(w, "Files the checks read (on this host)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tFILE\tAGE\tALLOWED\tVERDICT")
	for _, f := range rep.Files {
		age := "✗ missing"
		if f.Present {
			age = textfmt.Duration(time.Duration(f.AgeS * float64(time.Second)).Round(time.Minute))
		}
		allowed := textfmt.Spelled(time.Duration(f.LimitS * float64(time.Second)))
		if f.LimitS <= 0 {
			allowed = "any"
		}
		if f.RecoveryPoint && strings.Contains(f.Limit, "RPO") {
			allowed += " (RPO)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(f.Step), clean(f.File), age, allowed, verdictMark[f.Verdict])
	}
	tw.Flush()
	fmt.Fprintln(w)
}
