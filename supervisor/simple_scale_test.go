//go:build !race

// The race detector allows at most 8128 live goroutines, so this file runs
// only without it.

package supervisor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

func idle(ctx context.Context, _ int) error {
	<-ctx.Done()
	return nil
}

// a10 at scale: 100,000 instances start, run idle, are listed and counted,
// and stop in parallel.
func TestSimpleHundredThousandInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const n = 100_000
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "w"}, idle)
	if err != nil {
		t.Fatal(err)
	}
	startT(t, p)
	ctx := testCtx(t)
	for i := range n {
		if _, err := p.StartChild(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := p.CountChildren(ctx)
	if err != nil || counts.Active != n || counts.Workers != n {
		t.Fatalf("counts = %+v, %v", counts, err)
	}
	if err := stop(t, p); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSimpleStartTerminate measures one StartChild plus one
// TerminateChild of an idle instance while n other instances run: the cost
// per operation should not grow with n.
func BenchmarkSimpleStartTerminate(b *testing.B) {
	for _, n := range []int{0, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("running=%d", n), func(b *testing.B) {
			p, err := supervisor.NewSimple("pool", child.Spec{ID: "w"}, idle)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := p.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer p.Stop(ctx)
			for i := range n {
				if _, err := p.StartChild(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				h, err := p.StartChild(ctx, i)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.TerminateChild(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
