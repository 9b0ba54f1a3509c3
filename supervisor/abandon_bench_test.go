package supervisor_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// abandonDeadline is the deadline of each Stop in BenchmarkStopAbandons: far
// shorter than the children's own budget, so that it is what cuts them.
const abandonDeadline = 20 * time.Millisecond

// deaf is a set of children that ignore their cancellation: each returns
// only once the benchmark frees them all.
type deaf struct {
	release chan struct{}
	running sync.WaitGroup
}

func newDeaf(n int) *deaf {
	d := &deaf{release: make(chan struct{})}
	d.running.Add(n)
	return d
}

// serve is one child's body.
func (d *deaf) serve(context.Context) error {
	defer d.running.Done()
	<-d.release
	return nil
}

// free lets every child return and waits until they have.
func (d *deaf) free() {
	close(d.release)
	d.running.Wait()
}

// startDeafStatic starts a supervisor of n static deaf children, each with an
// hour to stop.
func startDeafStatic(b *testing.B, n int, d *deaf) sup {
	b.Helper()
	specs := make([]child.Spec, n)
	for i := range specs {
		specs[i] = child.Spec{ID: "c" + strconv.Itoa(i), Service: child.Func(d.serve), Shutdown: time.Hour}
	}
	s, err := supervisor.New("abandon", specs)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

// startDeafSimple starts a simple_one_for_one supervisor running n deaf
// instances, with an hour to stop.
func startDeafSimple(b *testing.B, n int, d *deaf) sup {
	b.Helper()
	p, err := supervisor.NewSimple("abandon", child.Spec{ID: "w", Shutdown: time.Hour},
		func(ctx context.Context, _ struct{}) error { return d.serve(ctx) })
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for range n {
		if _, err := p.StartChild(ctx, struct{}{}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// BenchmarkStopAbandons: Stop with a 20 ms deadline, which passes while every
// child still runs, for it ignores its cancellation: the supervisor abandons
// them all. ns/op is one Stop, from the call until Serve has returned;
// past-deadline-ns/op is how long after Stop's deadline that was, the cost of
// abandoning. Building, starting and finally freeing the children are not
// timed.
func BenchmarkStopAbandons(b *testing.B) {
	for _, tree := range []struct {
		name  string
		start func(*testing.B, int, *deaf) sup
	}{
		{"static", startDeafStatic},
		{"simple", startDeafSimple},
	} {
		for _, n := range []int{1_000, 10_000} {
			b.Run(tree.name+"/children="+strconv.Itoa(n), func(b *testing.B) {
				var past time.Duration
				for range b.N {
					b.StopTimer()
					d := newDeaf(n)
					s := tree.start(b, n, d)
					ctx, cancel := context.WithTimeout(context.Background(), abandonDeadline)
					deadline, _ := ctx.Deadline()
					b.StartTimer()
					stopErr := s.Stop(ctx)
					// Stop may return at its deadline while the shutdown goes on;
					// the tree has stopped once Serve has returned.
					err := s.Wait()
					end := time.Now()
					b.StopTimer()
					cancel()
					past += end.Sub(deadline)
					d.free()
					if stopErr == nil || !errors.Is(err, supervisor.ErrStopTimeout) {
						b.Fatalf("Stop = %v, Serve = %v; want the children abandoned", stopErr, err)
					}
				}
				b.ReportMetric(float64(past.Nanoseconds())/float64(b.N), "past-deadline-ns/op")
			})
		}
	}
}
