package engine

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestSpreadLetsIdleHostsGoFirst: domains listed host by host, three
// hosts, max_per_host 2, max_parallel 16. The first six launched are the
// first two of each host (a domain whose host is full does not hold the
// step's places), and when one ends the next launched is the next of its
// host, in the order written.
func TestSpreadLetsIdleHostsGoFirst(t *testing.T) {
	t.Parallel()
	doms := []string{"a1", "a2", "a3", "a4", "b1", "b2", "b3", "c1", "c2", "c3"}
	hosts := map[string]string{}
	for _, d := range doms {
		hosts[d] = "host-" + d[:1]
	}
	started := make(chan string)
	release := map[string]chan struct{}{}
	for _, d := range doms {
		release[d] = make(chan struct{})
	}
	done := make(chan error, 1)
	go func() {
		done <- spread(context.Background(), doms, 16, 2, hosts, func(_ context.Context, d string) error {
			started <- d
			<-release[d]
			if d == "b3" {
				return errors.New("b3 failed")
			}
			return nil
		})
	}()
	var first []string
	for range 6 {
		first = append(first, <-started)
	}
	slices.Sort(first)
	if want := []string{"a1", "a2", "b1", "b2", "c1", "c2"}; !slices.Equal(first, want) {
		t.Fatalf("first launched %v, want %v", first, want)
	}
	close(release["b1"])
	if d := <-started; d != "b3" {
		t.Fatalf("after b1 ended, %s was launched; want b3, the next of its host", d)
	}
	close(release["a2"])
	if d := <-started; d != "a3" {
		t.Fatalf("after a2 ended, %s was launched; want a3", d)
	}
	close(release["a1"])
	if d := <-started; d != "a4" {
		t.Fatalf("after a1 ended, %s was launched; want a4", d)
	}
	close(release["c1"])
	if d := <-started; d != "c3" {
		t.Fatalf("after c1 ended, %s was launched; want c3", d)
	}
	for _, d := range []string{"a3", "a4", "b2", "b3", "c2", "c3"} {
		close(release[d])
	}
	if err := <-done; err == nil || err.Error() != "b3 failed" {
		t.Errorf("spread returned %v, want b3's failure (the others finished)", err)
	}
}

// TestSpreadOneAtATimeStopsAtTheFirstFailure: with a limit of 1, in the
// order given, and nothing after a failure.
func TestSpreadOneAtATimeStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	var ran []string
	err := spread(context.Background(), []string{"c", "a", "b", "d"}, 1, 2, nil, func(_ context.Context, d string) error {
		ran = append(ran, d)
		if d == "b" {
			return errors.New("b failed")
		}
		return nil
	})
	if err == nil || !slices.Equal(ran, []string{"c", "a", "b"}) {
		t.Errorf("ran %v, err %v; want c, a, b and b's failure", ran, err)
	}
}
