package session

import (
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// TestSiteBoardSince: a console asking with its mark gets only the sites
// whose status changed since, in name order, and a mark that moves on.
func TestSiteBoardSince(t *testing.T) {
	b := &siteBoard{last: map[string]engine.SiteStatus{}, seq: map[string]int64{}}
	put := func(site string, up bool) {
		b.count++
		b.last[site], b.seq[site] = engine.SiteStatus{Site: site, Reachable: up, At: time.Now()}, b.count
	}
	put("secondary", true)
	put("primary", true)
	got, mark := b.since(0)
	if len(got) != 2 || got[0].Site != "primary" || got[1].Site != "secondary" || mark != 2 {
		t.Fatalf("since 0: %+v mark %d", got, mark)
	}
	if got, m := b.since(mark); len(got) != 0 || m != mark {
		t.Fatalf("nothing new: %+v mark %d", got, m)
	}
	put("primary", false)
	got, mark = b.since(mark)
	if len(got) != 1 || got[0].Site != "primary" || got[0].Reachable || mark != 3 {
		t.Fatalf("primary went down: %+v mark %d", got, mark)
	}
	var none *siteBoard
	if got, m := none.since(5); got != nil || m != 5 {
		t.Fatalf("no board: %+v %d", got, m)
	}
}
