package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// RecoveryPoint records the moment up to which the recovery site holds the
// data: a backup file's modification time (check: {file, recovery_point:
// true}), a time printed by a replication tool (exec: {recovery_point:
// stdout}), or the start of a volume copy. The RPO achieved is measured
// from it (Progress.RPOAchieved).
//
// At is the recovery point itself, not when it was recorded (Meta.At).
type RecoveryPoint struct {
	Meta
	Step   string    `json:"step"`
	At     time.Time `json:"at"`
	Source string    `json:"source"`
}

// Kind implements Event.
func (*RecoveryPoint) Kind() string { return "rpo.point" }

func init() { eventTypes["rpo.point"] = func() Event { return &RecoveryPoint{} } }

// applyRecoveryPoint folds a recovery point into the projection. Progress.Apply
// calls it: case *RecoveryPoint: p.applyRecoveryPoint(e).
func (p *Progress) applyRecoveryPoint(e *RecoveryPoint) {
	p.RecoveryPoints = append(p.RecoveryPoints, e)
}

// RecoveryPointOf is the run's recovery point: the oldest one recorded,
// since the recovery site is only as recent as its oldest data (a database
// restored from last night's backup beside volumes copied a minute ago has
// lost a night). False when the run recorded none.
func (p *Progress) RecoveryPointOf() (*RecoveryPoint, bool) {
	var oldest *RecoveryPoint
	for _, rp := range p.RecoveryPoints {
		if oldest == nil || rp.At.Before(oldest.At) {
			oldest = rp
		}
	}
	return oldest, oldest != nil
}

// RPOAchieved is the data the run's recovery lost, measured: the moment the
// outage began (the RTO clock's start, or the run's start when the clock
// has not started) minus the recovery point. A recovery point taken after
// the outage began (a final copy of stopped domains) lost nothing: zero.
// False when no recovery point was recorded.
func (p *Progress) RPOAchieved() (time.Duration, bool) {
	rp, ok := p.RecoveryPointOf()
	if !ok {
		return 0, false
	}
	from, _ := p.outage()
	return max(0, from.Sub(rp.At)), true
}

// outage is the moment the RPO is measured to: the RTO clock's start (and
// the step that started it), or the run's start.
func (p *Progress) outage() (time.Time, string) {
	if !p.RTOStart.IsZero() {
		return p.RTOStart, p.RTOStartStep
	}
	if p.Started != nil {
		return p.Started.At, ""
	}
	return time.Time{}, ""
}

// RPOTarget is the run's RPO target: the runbook's rpo (rb, or the
// runbook recorded with the run when rb is nil); 0 when it gives none.
func (p *Progress) RPOTarget(rb *runbooks.Runbook) time.Duration {
	if rb == nil && p.Started != nil {
		rb, _ = p.Runbook()
	}
	if rb == nil {
		return 0
	}
	return rb.RPO
}

// RPOStanding is the RPO of a run for history and the report: the target
// (the runbook's rpo), what was achieved, and whether it was met.
type RPOStanding struct {
	// TargetS is the runbook's rpo in seconds, 0 when it gives none.
	TargetS float64 `json:"rpo_target_s,omitempty"`
	// AchievedS is the measured RPO in seconds; Measured is false when the
	// run recorded no recovery point (AchievedS is then 0 and means nothing).
	AchievedS float64 `json:"rpo_achieved_s,omitempty"`
	Measured  bool    `json:"rpo_measured"`
	// Met: measured and within the target (or no target).
	Met bool `json:"rpo_met"`
	// Point and Source say where the recovery point came from; Step is
	// the step that recorded it.
	Point  time.Time `json:"recovery_point,omitempty"`
	Source string    `json:"recovery_point_source,omitempty"`
	Step   string    `json:"recovery_point_step,omitempty"`
	// Achieved is AchievedS as a duration; Outage is the moment it is
	// measured to (the RTO clock's start, OutageStep, or the run's start).
	Achieved   time.Duration `json:"-"`
	Outage     time.Time     `json:"-"`
	OutageStep string        `json:"-"`
}

// RPO returns the run's RPO standing. rb is the runbook the run ran (for
// its rpo target); nil reads the target from the run's recorded source.
func (p *Progress) RPO(rb *runbooks.Runbook) RPOStanding {
	target := p.RPOTarget(rb)
	out := RPOStanding{TargetS: target.Seconds()}
	got, ok := p.RPOAchieved()
	if !ok {
		return out
	}
	rp, _ := p.RecoveryPointOf()
	out.Measured, out.AchievedS, out.Achieved = true, got.Seconds(), got
	out.Point, out.Source, out.Step = rp.At, rp.Source, rp.Step
	out.Outage, out.OutageStep = p.outage()
	out.Met = target == 0 || got <= target
	return out
}

// recordRecoveryPoint journals a recovery point and says so in the log.
func (e *Engine) recordRecoveryPoint(ctx context.Context, st *runbooks.Step, at time.Time, source string) error {
	if err := e.emit(ctx, &RecoveryPoint{Step: st.ID, At: at.UTC(), Source: source}); err != nil {
		return err
	}
	return e.logf(ctx, st.ID, "info", "recovery point %s (%s)", at.UTC().Format(time.RFC3339), source)
}

// fileRecoveryPoint records a checked file's modification time as the
// recovery point, when the check says recovery_point: true.
func (e *Engine) fileRecoveryPoint(ctx context.Context, st *runbooks.Step, c *runbooks.Check, mtime time.Time) error {
	if !c.RecoveryPoint {
		return nil
	}
	return e.recordRecoveryPoint(ctx, st, mtime, "modification time of "+c.File)
}

// stdoutRecoveryPoint reads the recovery point an exec printed on the last
// line of its output (recovery_point: stdout), an RFC 3339 time. A command
// that printed none fails the step: the runbook said the RPO would be
// measured from it, and a silent gap would read as "not measured" at best.
func (e *Engine) stdoutRecoveryPoint(ctx context.Context, st *runbooks.Step, res *cmdResult) error {
	out, _ := res.stdout.text(res.redact)
	line := strings.TrimSpace(out)
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = strings.TrimSpace(line[i+1:])
	}
	at, err := time.Parse(time.RFC3339Nano, line)
	if err != nil {
		shown := []rune(line)
		if len(shown) > 80 {
			shown = append(shown[:80], '…')
		}
		return fmt.Errorf("recovery_point: stdout, but the command's last line of output is %q, not an RFC 3339 time such as 2026-11-30T02:00:00Z: make the command print the time of the data it replicated last (date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ), or remove recovery_point", string(shown))
	}
	return e.recordRecoveryPoint(ctx, st, at, "printed by "+CommandString(st.Exec.Command, st.Exec.Shell))
}

// withRPO adds the RPO measured and the runbook's target to the event that
// ends the run, so that history and the report read them from one place.
// The engine calls it where it builds RunEnded: end := e.withRPO(&RunEnded{…}).
func (e *Engine) withRPO(end *RunEnded) *RunEnded {
	e.mu.Lock()
	got, ok := e.prog.RPOAchieved()
	e.mu.Unlock()
	end.RPOTarget = e.rb.RPO
	if ok {
		end.RPOAchieved = &got
	}
	return end
}
