package session

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
)

// siteEvery is how often the sites are watched and an attached console
// asks for their state.
const siteEvery = 2 * time.Second

// siteBoard is the detached engine's live view of its sites (one monitor,
// over the engine's own connections), which attached consoles read
// through the socket: a console never opens connections of its own to the
// sites, and the simulated lab it shows is the engine's.
type siteBoard struct {
	mu    sync.Mutex
	last  map[string]engine.SiteStatus
	count int64 // statuses received so far: a console asks for newer ones
	seq   map[string]int64
}

// watchSites starts the engine's monitor of its sites until ctx is done.
func watchSites(ctx context.Context, sites map[string]engine.Hypervisor) *siteBoard {
	b := &siteBoard{last: map[string]engine.SiteStatus{}, seq: map[string]int64{}}
	ch := engine.Monitor(ctx, sites, siteEvery)
	go func() {
		for st := range ch {
			b.mu.Lock()
			b.count++
			b.last[st.Site], b.seq[st.Site] = st, b.count
			b.mu.Unlock()
		}
	}()
	return b
}

// since returns the sites whose status changed after mark, in name order,
// and the mark to ask with next.
func (b *siteBoard) since(mark int64) ([]engine.SiteStatus, int64) {
	if b == nil {
		return nil, mark
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []engine.SiteStatus
	for name, n := range b.seq {
		if n > mark {
			out = append(out, b.last[name])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out, b.count
}

// followSites asks the engine for its sites' state every siteEvery and
// sends what changed, until ctx is done; the channel is then closed.
func (r *remote) followSites(ctx context.Context) <-chan engine.SiteStatus {
	out := make(chan engine.SiteStatus, 16)
	go func() {
		defer close(out)
		var mark int64
		t := time.NewTicker(siteEvery)
		defer t.Stop()
		for {
			rep, err := call(ctx, r.sock, wireRequest{Op: "sites", Mark: mark}, 5*time.Second)
			if err == nil {
				mark = rep.Mark
				for _, st := range rep.Sites {
					select {
					case out <- st:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return out
}
