package supervisor_test

// Micro-benchmarks of the supervisor's hot paths, for profiling with
//
//	go test -run '^$' -bench . -benchmem -cpuprofile cpu.out ./supervisor
//
// The side-by-side comparison with suture and the plain-goroutine floor is the
// program in bench/ (see docs/benchmarks.md); these only time arbor itself.

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
)

var errBenchBoom = errors.New("bench: boom")

// benchIntensity is never reached by a benchmark: every restart stays in the
// window.
var benchIntensity = escalation.Intensity{MaxRestarts: 1 << 40, Period: time.Hour}

// benchCrasher fails (returns an error, or panics) as soon as it is entered,
// until left reaches 0; that incarnation reports on done and idles.
// Incarnations run one after another, ordered by the supervisor's hand-offs,
// so left needs no lock.
type benchCrasher struct {
	panics bool
	ready  bool // calls child.Ready first (its spec sets AwaitReady)
	left   int
	done   chan struct{}
	// one-at-a-time mode: each incarnation waits for a trigger before failing.
	trigger, entered chan struct{}
}

func (c *benchCrasher) Serve(ctx context.Context) error {
	if c.ready {
		child.Ready(ctx)
	}
	if c.trigger != nil {
		select {
		case c.entered <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		select {
		case <-c.trigger:
		case <-ctx.Done():
			return nil
		}
	} else {
		if c.left == 0 {
			close(c.done)
			<-ctx.Done()
			return nil
		}
		c.left--
	}
	if c.panics {
		panic(errBenchBoom)
	}
	return errBenchBoom
}

func benchStart(b *testing.B, specs []child.Spec, opts ...supervisor.Option) *supervisor.Supervisor {
	b.Helper()
	s, err := supervisor.New("bench", specs, append([]supervisor.Option{supervisor.WithIntensity(benchIntensity)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchStop(b *testing.B, s *supervisor.Supervisor) {
	b.Helper()
	if err := s.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// benchRestarts times b.N restarts of one child: back to back (each
// incarnation fails as soon as it is entered), or one at a time (each
// incarnation is made to fail only once the previous restart is over).
func benchRestarts(b *testing.B, panics, oneAtATime bool) {
	c := &benchCrasher{panics: panics, left: b.N, done: make(chan struct{})}
	if oneAtATime {
		c.trigger, c.entered = make(chan struct{}), make(chan struct{})
	}
	s := benchStart(b, []child.Spec{{ID: "crasher", Service: c}})
	b.ReportAllocs()
	if oneAtATime {
		<-c.entered
		b.ResetTimer()
		for range b.N {
			c.trigger <- struct{}{}
			<-c.entered
		}
	} else {
		b.ResetTimer()
		<-c.done
	}
	b.StopTimer()
	benchStop(b, s)
}

// BenchmarkRestartAfterError: a permanent child returns an error and is
// restarted; ns/op is per restart.
func BenchmarkRestartAfterError(b *testing.B) {
	b.Run("back-to-back", func(b *testing.B) { benchRestarts(b, false, false) })
	b.Run("one-at-a-time", func(b *testing.B) { benchRestarts(b, false, true) })
}

// BenchmarkRestartBesideBusyGoroutines: back-to-back restarts, as in
// BenchmarkRestartAfterError, while GOMAXPROCS other goroutines of the
// process are always runnable, as CPU-bound workers are; ns/op is per
// restart. A loop that yields the processor with runtime.Gosched goes to the
// global run queue behind such goroutines and can wait a scheduling quantum
// (about 10 ms) per yield: this is the figure that shows it.
func BenchmarkRestartBesideBusyGoroutines(b *testing.B) {
	for _, await := range []bool{false, true} {
		name := "no-readiness"
		if await {
			name = "readiness"
		}
		b.Run(name, func(b *testing.B) {
			var stop atomic.Bool
			var spinners sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				spinners.Go(func() {
					for !stop.Load() {
					}
				})
			}
			defer func() { stop.Store(true); spinners.Wait() }()
			c := &benchCrasher{ready: await, left: b.N, done: make(chan struct{})}
			s := benchStart(b, []child.Spec{{ID: "crasher", Service: c, AwaitReady: await}})
			b.ResetTimer()
			<-c.done
			b.StopTimer()
			benchStop(b, s)
		})
	}
}

// BenchmarkRestartAfterPanic: a permanent child panics and is restarted; ns/op
// is per restart.
func BenchmarkRestartAfterPanic(b *testing.B) {
	b.Run("back-to-back", func(b *testing.B) { benchRestarts(b, true, false) })
	b.Run("one-at-a-time", func(b *testing.B) { benchRestarts(b, true, true) })
}

var benchReadyIdle = child.Func(func(ctx context.Context) error {
	child.Ready(ctx)
	<-ctx.Done()
	return nil
})

var benchIdle = child.Func(func(ctx context.Context) error {
	<-ctx.Done()
	return nil
})

func benchSpecs(n int, await bool) []child.Spec {
	specs := make([]child.Spec, n)
	for i := range specs {
		specs[i] = child.Spec{ID: "c" + strconv.Itoa(i), Service: benchIdle}
		if await {
			specs[i].Service, specs[i].AwaitReady = benchReadyIdle, true
		}
	}
	return specs
}

// BenchmarkStartStop: an ordered start of n children, each awaited until it
// calls child.Ready, then the reverse ordered stop. ns/op is one whole start
// and stop; start-ns/child and stop-ns/child split it per child.
func BenchmarkStartStop(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, await := range []bool{true, false} {
			name := "children=" + strconv.Itoa(n)
			if !await {
				name += "/no-readiness"
			}
			b.Run(name, func(b *testing.B) {
				specs := benchSpecs(n, await)
				b.ReportAllocs()
				var start, stop time.Duration
				for range b.N {
					b.StopTimer()
					s, err := supervisor.New("bench", specs)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					t0 := time.Now()
					if err := s.Start(context.Background()); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					benchStop(b, s)
					start += t1.Sub(t0)
					stop += time.Since(t1)
				}
				b.ReportMetric(float64(start.Nanoseconds())/float64(b.N*n), "start-ns/child")
				b.ReportMetric(float64(stop.Nanoseconds())/float64(b.N*n), "stop-ns/child")
			})
		}
	}
}

// BenchmarkStartChildTerminateChild: StartChild of a temporary worker, then
// TerminateChild, on a running supervisor that already has some idle
// children. ns/op is one pair.
func BenchmarkStartChildTerminateChild(b *testing.B) {
	for _, siblings := range []int{0, 1000} {
		b.Run("siblings="+strconv.Itoa(siblings), func(b *testing.B) {
			s := benchStart(b, benchSpecs(siblings, false))
			ctx := context.Background()
			spec := child.Spec{ID: "dyn", Service: benchIdle, Restart: child.Temporary}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.StartChild(ctx, spec); err != nil {
					b.Fatal(err)
				}
				if err := s.TerminateChild(ctx, "dyn"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			benchStop(b, s)
		})
	}
}

// BenchmarkRemoveOldest: with live children running, StartChild of a new
// temporary child and TerminateChild of the oldest, so the list turns over
// from its front. ns/op is one pair; it must not grow with the number live.
func BenchmarkRemoveOldest(b *testing.B) {
	for _, live := range []int{1_000, 10_000, 100_000} {
		b.Run("live="+strconv.Itoa(live), func(b *testing.B) {
			s := benchStart(b, nil)
			ctx := context.Background()
			spec := func(n int) child.Spec {
				return child.Spec{ID: "c" + strconv.Itoa(n), Service: benchIdle, Restart: child.Temporary}
			}
			for n := range live {
				if err := s.StartChild(ctx, spec(n)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.StartChild(ctx, spec(live+i)); err != nil {
					b.Fatal(err)
				}
				if err := s.TerminateChild(ctx, "c"+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			benchStop(b, s)
		})
	}
}

// BenchmarkStartGroup: 1,000 children that each take 1 ms to become ready,
// started one after another and as one start group. ns/op is one whole start.
func BenchmarkStartGroup(b *testing.B) {
	slow := child.Func(func(ctx context.Context) error {
		t := time.NewTimer(time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	for _, group := range []string{"", "all"} {
		name := "sequential"
		if group != "" {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			specs := make([]child.Spec, 1000)
			for i := range specs {
				specs[i] = child.Spec{ID: "c" + strconv.Itoa(i), Service: slow, AwaitReady: true, StartGroup: group}
			}
			for range b.N {
				s, err := supervisor.New("bench", specs)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				benchStop(b, s)
				b.StartTimer()
			}
		})
	}
}
