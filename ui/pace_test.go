package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// fakeClock is a pacer's clock: sleep moves it, and runs what arrives
// meanwhile.
type fakeClock struct {
	now    time.Time
	slept  []time.Duration
	during func()
}

func (c *fakeClock) pacer() *pacer {
	return &pacer{now: func() time.Time { return c.now }, sleep: func(d time.Duration) {
		c.slept = append(c.slept, d)
		if c.during != nil {
			c.during()
		}
		c.now = c.now.Add(d)
	}}
}

func TestPacerSpacesMessagesByAFrame(t *testing.T) {
	c := &fakeClock{now: t0}
	p := c.pacer()
	p.wait(false) // the first message after a quiet time goes at once
	p.wait(false) // the next one in the same instant waits a whole frame
	c.now = c.now.Add(frame / 4)
	p.wait(false) // a quarter frame later: the rest of the frame
	c.now = c.now.Add(3 * frame)
	p.wait(false) // long after: at once
	p.wait(true)  // a feed with a backlog: at once
	want := []time.Duration{frame, frame - frame/4}
	if fmt.Sprint(c.slept) != fmt.Sprint(want) {
		t.Errorf("slept %v, want %v", c.slept, want)
	}
}

// TestEventsArrivingDuringAFrameShareIt: what the engine emits while the
// screen waits for its frame is applied and drawn with the first event,
// not one frame each.
func TestEventsArrivingDuringAFrameShareIt(t *testing.T) {
	ch := make(chan engine.Event, 16)
	c := &fakeClock{now: t0}
	p := c.pacer()
	p.wait(false) // a frame was just drawn
	ch <- at(0, &engine.StepChanged{Step: "a", State: engine.StepRunning})
	c.during = func() {
		for i := range 3 {
			ch <- at(1, &engine.Logged{Step: "a", Level: "info", Message: fmt.Sprint(i)})
		}
	}
	msg := waitEvents(ch, p, false)()
	em, ok := msg.(eventsMsg)
	if !ok {
		t.Fatalf("got %T, want eventsMsg", msg)
	}
	if len(em.evs) != 4 {
		t.Errorf("one message carries %d events, want the 4 that arrived within the frame", len(em.evs))
	}
	if len(c.slept) != 1 {
		t.Errorf("slept %v, want one wait for the frame", c.slept)
	}
}

// TestSiteStatusesShareAFrame: a burst of lifecycle changes (one whole
// site status each) is one message with the newest status of each site.
func TestSiteStatusesShareAFrame(t *testing.T) {
	ch := make(chan engine.SiteStatus, 16)
	for i := range 5 {
		ch <- siteStatus("primary", 10, func(j int) bool { return j >= i })
		ch <- siteStatus("secondary", 10, func(j int) bool { return j < i })
	}
	msg := waitSite(ch, nil)()
	sm, ok := msg.(sitesMsg)
	if !ok {
		t.Fatalf("got %T, want sitesMsg", msg)
	}
	if len(sm.sts) != 2 || sm.sts[0].Site != "primary" || sm.sts[1].Site != "secondary" {
		t.Fatalf("got %d statuses (%v), want the newest of primary and of secondary", len(sm.sts), sm.sts)
	}
	running := func(st engine.SiteStatus) int {
		n := 0
		for _, s := range st.Domains {
			if s == engine.StateRunning {
				n++
			}
		}
		return n
	}
	if p, s := running(sm.sts[0]), running(sm.sts[1]); p != 6 || s != 4 {
		t.Errorf("running: primary %d, secondary %d; want the last statuses (6 and 4)", p, s)
	}
	close(ch)
	if _, ok := waitSite(ch, nil)().(sitesDone); !ok {
		t.Error("a closed feed does not say so")
	}
}

// TestABacklogIsNotPaced: after a full batch (a burst larger than
// maxBatch), the rest is taken at once, not one frame per batch.
func TestABacklogIsNotPaced(t *testing.T) {
	ch := make(chan engine.Event, maxBatch+10)
	for i := range maxBatch + 10 {
		ch <- at(0, &engine.Logged{Step: "a", Level: "info", Message: fmt.Sprint(i)})
	}
	c := &fakeClock{now: t0}
	p := c.pacer()
	em := waitEvents(ch, p, false)().(eventsMsg)
	if len(em.evs) != maxBatch {
		t.Fatalf("first batch of a burst: %d events, want %d", len(em.evs), maxBatch)
	}
	em = waitEvents(ch, p, len(em.evs) == maxBatch)().(eventsMsg)
	if len(em.evs) != 10 || len(c.slept) != 0 {
		t.Errorf("the rest of the burst: %d events after sleeping %v; want 10 at once", len(em.evs), c.slept)
	}
}
