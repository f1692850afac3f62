package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// VerbCopyVolume is the action verb of one volume copy.
const VerbCopyVolume = "copy-volume"

// A copy's effect is not a domain state: an in-doubt copy is copied again
// whole (copyVolumes), never trusted.
func init() {
	RegisterKind(runbooks.KindCopy, Executor{Run: (*Engine).copyVolumes, Verbs: map[string]DomainState{VerbCopyVolume: ""}})
}

// VolumeCopied records a volume copy that completed: what was copied, how
// much, how fast, and the checksums compared. It is written before the
// copy's action outcome, which is ok only when the checksums matched (or
// the runbook said verify: none).
type VolumeCopied struct {
	Meta
	Action   int64         `json:"action"`
	Step     string        `json:"step"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	Volume   string        `json:"volume"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration_ns"`
	// BytesPerSecond is the stream's throughput (verification excluded).
	BytesPerSecond float64 `json:"bytes_per_second"`
	// SourceSHA256 is computed while streaming; TargetSHA256 by reading
	// the target back afterwards (empty with verify: none).
	SourceSHA256 string `json:"source_sha256"`
	TargetSHA256 string `json:"target_sha256,omitempty"`
	Verify       string `json:"verify"`
	// Replaced: the target volume existed and was replaced.
	Replaced bool `json:"replaced,omitempty"`
}

// Kind implements Event.
func (*VolumeCopied) Kind() string { return "volume.copied" }

func init() { eventTypes["volume.copied"] = func() Event { return &VolumeCopied{} } }

// ErrChecksumMismatch: the target volume read back is not what was sent.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// copyVolumes runs a copy step: each volume is streamed from the source
// site's libvirt to the target site's (download → upload, through this
// console), hashed on the way, then read back from the target and its hash
// compared.
//
// Write-ahead, and why an interrupted copy is never reported done: libvirt
// has no volume rename, so the copy cannot go to a temporary name and be
// renamed into place. Instead the target volume is written in place, and
// the action's outcome (ok) is journaled only after the target's checksum
// matched. A copy interrupted anywhere before that has an intent and no ok
// outcome: on resume it is in doubt, and the step copies that volume again
// from the start, replacing the half-written target (it knows from the
// journal that this run wrote it). Volumes whose copy has an ok outcome in
// this run are not copied again.
func (e *Engine) copyVolumes(ctx context.Context, st *runbooks.Step) error {
	c := runbooks.CopyOf(st)
	ctx, cancel := context.WithTimeout(ctx, e.scaled(c.Timeout))
	defer cancel()
	src, err := e.volumeSite(c.From)
	if err != nil {
		return err
	}
	dst, err := e.volumeSite(c.To)
	if err != nil {
		return err
	}
	var vols []VolumeRef
	seen := map[VolumeRef]bool{}
	for _, spec := range c.Volumes {
		refs := []VolumeRef{{Pool: spec.Pool, Name: spec.Name}}
		if spec.Domain != "" {
			err := e.do(ctx, func(ctx context.Context) (err error) { refs, err = src.DomainVolumes(ctx, spec.Domain); return err })
			if err != nil {
				return e.siteError(c.From, spec.Domain, fmt.Errorf("list the domain's disks: %w", err))
			}
			names := make([]string, len(refs))
			for i, r := range refs {
				names[i] = r.String()
			}
			if err := e.logf(ctx, st.ID, "info", "%s/%s: disks %s", c.From, spec.Domain, strings.Join(names, ", ")); err != nil {
				return err
			}
		}
		for _, r := range refs {
			if !seen[r] {
				seen[r] = true
				vols = append(vols, r)
			}
		}
	}
	for i, v := range vols {
		if done := e.earlierCopy(st.ID, c.To, v, true); done != nil {
			if err := e.logf(ctx, st.ID, "info", "%s already copied to %s in this run (at %s); not copied again", v, c.To, done.At.Local().Format("15:04:05")); err != nil {
				return err
			}
			continue
		}
		if err := e.copyOne(ctx, st, src, dst, v, i+1, len(vols)); err != nil {
			return err
		}
	}
	return nil
}

// volumeSite returns a site's volume streams, or says the site has none.
func (e *Engine) volumeSite(site string) (VolumeCopier, error) {
	vc, ok := e.sites[site].(VolumeCopier)
	if !ok {
		return nil, fmt.Errorf("site %s (%s) cannot copy storage volumes: its driver has no volume streams; use an exec step with your replication tool", site, e.opts.URIs[site])
	}
	return vc, nil
}

// earlierCopy finds an earlier copy of v to site by this step in this run:
// with ok, only one that completed; otherwise any (a half-written target
// this run may replace).
func (e *Engine) earlierCopy(step, site string, v VolumeRef, ok bool) *ActionProgress {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.prog.Actions {
		in := a.Intent
		if in.Verb != VerbCopyVolume || in.Step != step || in.Site != site || in.Volume != v.String() {
			continue
		}
		if !ok || a.Result == ActionOK {
			ac := *a
			return &ac
		}
	}
	return nil
}

func (e *Engine) copyOne(ctx context.Context, st *runbooks.Step, src, dst VolumeCopier, v VolumeRef, n, of int) error {
	c := runbooks.CopyOf(st)
	var info Volume
	err := e.do(ctx, func(ctx context.Context) (err error) { info, err = src.VolumeInfo(ctx, v); return err })
	if err != nil {
		return e.siteError(c.From, "", fmt.Errorf("read volume %s: %w", v, err))
	}
	var existing *Volume
	err = e.do(ctx, func(ctx context.Context) error {
		x, err := dst.VolumeInfo(ctx, v)
		if err == nil {
			existing = &x
		}
		return err
	})
	switch {
	case errors.Is(err, ErrVolumeNotFound):
	case err != nil:
		return e.siteError(c.To, "", fmt.Errorf("look for volume %s: %w", v, err))
	case !c.Overwrite && e.earlierCopy(st.ID, c.To, v, false) == nil:
		return e.siteError(c.To, "", fmt.Errorf("%w: volume %s exists already and the copy creates volumes (target: create); say target: overwrite to replace it, or delete it first (virsh vol-delete --pool %s %s)", ErrInvalidOperation, v, v.Pool, v.Name))
	}
	detail := fmt.Sprintf("copy %s:%s to %s (%s)", c.From, v, c.To, sizeText(info.Size))
	var action int64
	return e.actDetail(ctx, st, c.To, "", VerbCopyVolume, detail, func(ctx context.Context) error {
		if existing != nil {
			if err := e.do(ctx, func(ctx context.Context) error { return dst.DeleteVolume(ctx, v) }); err != nil {
				return fmt.Errorf("delete the old volume %s before replacing it: %w", v, err)
			}
		}
		sum, bytes, began, took, err := e.streamWhole(ctx, st, src, dst, v, info, n, of)
		if err != nil {
			return err
		}
		rec := &VolumeCopied{Action: action, Step: st.ID, From: c.From, To: c.To, Volume: v.String(), Bytes: bytes, Duration: took,
			BytesPerSecond: float64(bytes) / max(took.Seconds(), 1e-9), SourceSHA256: sum, Verify: c.Verify, Replaced: existing != nil}
		if c.Verify == runbooks.VerifySHA256 {
			if err := e.logf(ctx, st.ID, "info", "%s: %s copied in %s (%s/s); reading it back from %s to compare checksums", v, sizeText(bytes), took.Round(time.Millisecond), sizeText(int64(rec.BytesPerSecond)), c.To); err != nil {
				return err
			}
			h := sha256.New()
			cw := &countWriter{}
			if err := dst.ReadVolume(ctx, v, io.MultiWriter(h, cw)); err != nil {
				return fmt.Errorf("read volume %s back from %s to verify it: %w", v, c.To, err)
			}
			rec.TargetSHA256 = hex.EncodeToString(h.Sum(nil))
			if rec.TargetSHA256 != sum || cw.n != bytes {
				return fmt.Errorf("%w: volume %s at %s reads back as %s bytes with SHA-256 %s, but %s bytes with SHA-256 %s were sent from %s; the target is not a faithful copy: do not start anything on it, and run the step again",
					ErrChecksumMismatch, v, c.To, fmt.Sprint(cw.n), rec.TargetSHA256, fmt.Sprint(bytes), sum, c.From)
			}
		}
		if err := e.emit(ctx, rec); err != nil {
			return err
		}
		checked := "not verified (verify: none)"
		if rec.TargetSHA256 != "" {
			checked = "SHA-256 matches " + sum[:16] + "…"
		}
		if err := e.logf(ctx, st.ID, "info", "%s copied from %s to %s: %s in %s, %s/s; %s", v, c.From, c.To, sizeText(bytes), took.Round(time.Millisecond), sizeText(int64(rec.BytesPerSecond)), checked); err != nil {
			return err
		}
		// The data at the target is as recent as the moment the copy began.
		return e.recordRecoveryPoint(ctx, st, began, fmt.Sprintf("start of the copy of %s from %s", v, c.From))
	}, func(in *ActionIntent) {
		in.Volume, in.Bytes = v.String(), info.Size
		action = in.Action
	})
}

// stream copies v from src to dst through a pipe, hashing what goes
// through, and journals progress about every tenth of the way or five
// seconds, whichever comes first (never per chunk). Either side's failure
// stops the other.
func (e *Engine) stream(ctx context.Context, st *runbooks.Step, src, dst VolumeCopier, v VolumeRef, total int64, n, of int) (string, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := sha256.New()
	pr, pw := io.Pipe()
	prog := &copyProgress{e: e, ctx: ctx, step: st.ID, what: fmt.Sprintf("%s (%d of %d)", v, n, of), total: total, last: time.Now(), h: h, w: pw}
	// The first side to fail says why; the other then fails because of it.
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := src.ReadVolume(ctx, v, prog)
		if err != nil {
			fail(fmt.Errorf("read volume %s from %s: %w", v, runbooks.CopyOf(st).From, err))
			cancel()
		}
		pw.CloseWithError(err) // nil: end of stream for the writer
	}()
	if err := dst.WriteVolume(ctx, v, pr); err != nil {
		fail(fmt.Errorf("write volume %s at %s: %w", v, runbooks.CopyOf(st).To, err))
		cancel()
		pr.CloseWithError(err)
	} else {
		pr.CloseWithError(errors.New("the target stopped reading before the end of the volume"))
	}
	wg.Wait()
	if first != nil {
		return "", prog.n, first
	}
	return hex.EncodeToString(h.Sum(nil)), prog.n, nil
}

// copyProgress is the writer the source streams into: it hashes, counts,
// forwards to the pipe, and journals progress now and then.
type copyProgress struct {
	e     *Engine
	ctx   context.Context
	step  string
	what  string
	total int64
	n     int64
	tenth int64
	last  time.Time
	began time.Time
	h     hash.Hash
	w     io.Writer
	err   error
}

// progressEvery is the longest time between two progress lines.
const progressEvery = 5 * time.Second

func (p *copyProgress) Write(b []byte) (int, error) {
	if p.began.IsZero() {
		p.began = time.Now()
	}
	p.h.Write(b)
	n, err := p.w.Write(b)
	p.n += int64(n)
	if err != nil {
		return n, err
	}
	tenth := p.tenth
	if p.total > 0 {
		tenth = min(p.n*10/p.total, 10)
	}
	if tenth > p.tenth || time.Since(p.last) >= progressEvery {
		p.tenth, p.last = tenth, time.Now()
		pct := ""
		if p.total > 0 {
			pct = fmt.Sprintf(" (%d%%)", p.n*100/p.total)
		}
		rate := float64(p.n) / max(time.Since(p.began).Seconds(), 1e-9)
		if lerr := p.e.logf(p.ctx, p.step, "info", "%s: %s of %s copied%s, %s/s", p.what, sizeText(p.n), sizeText(p.total), pct, sizeText(int64(rate))); lerr != nil {
			p.err = lerr
			return n, lerr
		}
	}
	return n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// sizeText renders a byte count for people: 64.0 MiB.
func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func orRaw(format string) string {
	if format == "" {
		return "raw"
	}
	return format
}

// streamWhole creates the target volume and streams the source into it. A
// stream that ends short without an error (seen under load: libvirt closed
// the download having sent nothing) is tried again, from a new target, up
// to three times in all, each said in the trail; a copy is never taken for
// done with fewer bytes than the source has.
func (e *Engine) streamWhole(ctx context.Context, st *runbooks.Step, src, dst VolumeCopier, v VolumeRef, info Volume, n, of int) (sum string, bytes int64, began time.Time, took time.Duration, err error) {
	c := runbooks.CopyOf(st)
	for attempt := 1; ; attempt++ {
		like := info
		if err := e.do(ctx, func(ctx context.Context) error { return dst.CreateVolume(ctx, like) }); err != nil {
			return "", 0, began, 0, fmt.Errorf("create volume %s (%s, %s): %w", v, sizeText(info.Capacity), orRaw(info.Format), err)
		}
		began = time.Now()
		sum, bytes, err = e.stream(ctx, st, src, dst, v, info.Size, n, of)
		took = time.Since(began)
		if err != nil || bytes == info.Size {
			return sum, bytes, began, took, err
		}
		short := fmt.Errorf("volume %s: %d bytes read from %s, %d expected", v, bytes, c.From, info.Size)
		if attempt == 3 {
			return "", bytes, began, took, fmt.Errorf("%w: did the volume change during the copy? Copy it again with its domain shut off", short)
		}
		if err := e.logf(ctx, st.ID, "warn", "%v; copying it again (attempt %d of 3)", short, attempt+1); err != nil {
			return "", bytes, began, took, err
		}
		if err := e.do(ctx, func(ctx context.Context) error { return dst.DeleteVolume(ctx, v) }); err != nil {
			return "", bytes, began, took, fmt.Errorf("delete the short copy of %s before copying it again: %w", v, err)
		}
	}
}
