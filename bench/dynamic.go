package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/thejerf/suture/v4"

	"github.com/arborgo/arbor/child"
)

// idleService idles until its context is done.
type idleService struct{}

func (idleService) String() string { return "idle" }

func (idleService) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// dynamic adds children one at a time to a running supervisor, and removes
// the oldest live child one at a time (first in, first out).
//
//   - arbor: StartChild of a temporary worker with an ID of its own (no
//     readiness handshake), then TerminateChild of the oldest, which stops
//     it through its shutdown handshake and, the child being temporary,
//     deletes its spec.
//   - suture: Add, then RemoveAndWait of the oldest token with no timeout.
//   - floor-ctx: a fresh cancellable context, go (under a deferred recover),
//     then wait for the goroutine's started signal; cancel the oldest's
//     context, then wait for its done signal.
//   - floor: go, then wait for the goroutine's started signal; close the
//     oldest's stop channel, then wait for its done signal.
type dynamic struct {
	add    func()
	remove func() // the oldest live child
	close  func() error
}

// fifo is a first-in, first-out queue of live children.
type fifo[T any] struct {
	q    []T
	head int
}

func (f *fifo[T]) push(x T) { f.q = append(f.q, x) }

func (f *fifo[T]) pop() T {
	x := f.q[f.head]
	var zero T
	f.q[f.head] = zero
	f.head++
	return x
}

// newDynamic returns the variant's dynamic driver; capacity is the number of
// adds it will make (arbor's child IDs are built ahead, outside the timings).
func newDynamic(variant string, capacity int) *dynamic {
	ctx := context.Background()
	switch variant {
	case "arbor":
		s := newArbor(nil)
		if err := s.Start(ctx); err != nil {
			panic(err)
		}
		ids := make([]string, capacity)
		for i := range ids {
			ids[i] = "w" + strconv.Itoa(i)
		}
		added, removed := 0, 0
		return &dynamic{
			add: func() {
				spec := child.Spec{ID: ids[added], Service: idleService{}, Restart: child.Temporary}
				if err := s.StartChild(ctx, spec); err != nil {
					panic(err)
				}
				added++
			},
			remove: func() {
				if err := s.TerminateChild(ctx, ids[removed]); err != nil {
					panic(err)
				}
				removed++
			},
			close: func() error { return s.Stop(ctx) },
		}
	case "suture":
		s, h := newSuture()
		ctx, cancel := context.WithCancel(ctx)
		errC := s.ServeBackground(ctx)
		var svc idleService
		if err := s.RemoveAndWait(s.Add(svc), 0); err != nil {
			panic(err)
		}
		var live fifo[suture.ServiceToken]
		return &dynamic{
			add: func() { live.push(s.Add(svc)) },
			remove: func() {
				if err := s.RemoveAndWait(live.pop(), 0); err != nil {
					panic(err)
				}
			},
			close: func() error { cancel(); <-errC; return h.check() },
		}
	case "floor-ctx":
		started, done := make(readySignal), make(chan error)
		f := started.serve
		var live fifo[context.CancelFunc]
		return &dynamic{
			add: func() {
				ictx, cancel := context.WithCancel(context.Background())
				go floorRunRecover(ictx, f, done)
				<-started
				live.push(cancel)
			},
			remove: func() {
				live.pop()()
				if err := <-done; err != nil {
					panic(err)
				}
			},
			close: func() error { return nil },
		}
	case "floor":
		started, done := make(chan struct{}), make(chan struct{})
		var live fifo[chan struct{}]
		return &dynamic{
			add: func() {
				stop := make(chan struct{})
				go func() {
					started <- struct{}{}
					<-stop
					done <- struct{}{}
				}()
				<-started
				live.push(stop)
			},
			remove: func() {
				close(live.pop())
				<-done
			},
			close: func() error { return nil },
		}
	}
	panic("unknown variant " + variant)
}

// figDynamic is figure 6: with `live` children already running, per-call
// latency of adding one more and of removing the oldest and waiting for it
// to be gone, and the throughput of add+remove pairs (median of rounds).
// Since every pair removes the oldest child, a removal that scans the
// children grows with `live`.
func figDynamic(live int) func(cfg config, variant string) (map[string]float64, error) {
	return func(cfg config, variant string) (map[string]float64, error) {
		warm, rounds, m := 2000, 9, 10000
		if live > 0 {
			rounds, m = 5, 5000
		}
		if cfg.quick {
			warm, rounds, m = 500, 3, 2000
		}
		d := newDynamic(variant, live+warm+rounds*m)
		for range live {
			d.add()
		}
		for range warm {
			d.add()
			d.remove()
		}
		adds := make([]int64, 0, rounds*m)
		removes := make([]int64, 0, rounds*m)
		var rates []float64
		var am allocMeter
		am.begin()
		for range rounds {
			r0 := nowNS()
			for range m {
				t0 := nowNS()
				d.add()
				t1 := nowNS()
				d.remove()
				t2 := nowNS()
				adds = append(adds, t1-t0)
				removes = append(removes, t2-t1)
			}
			rates = append(rates, float64(m)/(float64(nowNS()-r0)/1e9))
		}
		allocs, bytes := am.end(rounds * m)
		if err := d.close(); err != nil {
			return nil, fmt.Errorf("close: %w", err)
		}
		return map[string]float64{
			"add_p50_us":    us(percentile(adds, 50)),
			"remove_p50_us": us(percentile(removes, 50)),
			"add_p99_us":    us(percentile(adds, 99)),
			"remove_p99_us": us(percentile(removes, 99)),
			"pairs_per_s":   median(rates),
			"allocs_pair":   allocs,
			"bytes_pair":    bytes,
		}, nil
	}
}

// dynamicFigs are the ids of the dynamic figures, in order, and dynamicLive
// the number of children live during each.
var (
	dynamicFigs = []string{"dynamic", "dynamic-1k", "dynamic-10k", "dynamic-100k"}
	dynamicLive = []int{0, 1_000, 10_000, 100_000}
)

// dynamicLabel names a dynamic figure in the tables.
func dynamicLabel(fig string) string {
	i := slices.Index(dynamicFigs, fig)
	if dynamicLive[i] == 0 {
		return "no other child live"
	}
	return fmt.Sprintf("%dk live", dynamicLive[i]/1000)
}
