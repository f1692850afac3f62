package libvirt_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// BenchmarkStartDestroy500 starts then forces off 500 domains of the test
// driver through one daemon, 16 at a time, as a start group with
// max_parallel: 16 would: the driver's own cost at the scale of a large
// estate (LIBVIRT-LAB.md measured go-libvirt alone at about 0.2 s).
func BenchmarkStartDestroy500(b *testing.B) {
	libvirtlab.Require(b)
	dir := libvirtlab.TempDir(b)
	d := libvirtlab.StartTestDaemon(b, dir, "bench", nil)
	ctx := context.Background()
	site, err := libvirt.Open(ctx, "bench", []string{d.URI}, libvirt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer site.Close()
	names := make([]string, 500)
	for i := range names {
		names[i] = fmt.Sprintf("vm-%03d", i)
		if _, err := site.Define(ctx, libvirtlab.TestDomainXML(names[i])); err != nil {
			b.Fatal(err)
		}
	}
	each := func(op func(context.Context, string) error) {
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := op(ctx, n); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	for b.Loop() {
		each(site.Start)
		each(site.Destroy)
	}
	b.StopTimer()
	if s, err := site.DomainState(ctx, names[0]); err != nil || s != engine.StateShutoff {
		b.Fatalf("vm-000 is %s (%v) after the benchmark", s, err)
	}
}
