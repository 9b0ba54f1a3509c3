package main

import (
	"context"
	"fmt"

	"github.com/arborgo/arbor/child"
)

// idleService idles until its context is done.
type idleService struct{}

func (idleService) String() string { return "idle" }

func (idleService) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// dynamic adds and removes one child at a time on a running supervisor.
//
//   - arbor: StartChild of a temporary worker (no readiness handshake), then
//     TerminateChild, which stops it through its shutdown handshake and,
//     the child being temporary, deletes its spec.
//   - suture: Add, then RemoveAndWait with no timeout.
//   - floor-ctx: a fresh cancellable context, go (under a deferred recover),
//     then wait for the goroutine's started signal; cancel its context, then
//     wait for its done signal.
//   - floor: go, then wait for the goroutine's started signal; close its
//     stop channel, then wait for its done signal.
type dynamic struct {
	add    func()
	remove func()
	close  func() error
}

func newDynamic(variant string) *dynamic {
	ctx := context.Background()
	switch variant {
	case "arbor":
		s := newArbor(nil)
		if err := s.Start(ctx); err != nil {
			panic(err)
		}
		spec := child.Spec{ID: "w", Service: idleService{}, Restart: child.Temporary}
		return &dynamic{
			add: func() {
				if err := s.StartChild(ctx, spec); err != nil {
					panic(err)
				}
			},
			remove: func() {
				if err := s.TerminateChild(ctx, "w"); err != nil {
					panic(err)
				}
			},
			close: func() error { return s.Stop(ctx) },
		}
	case "suture":
		s, h := newSuture()
		ctx, cancel := context.WithCancel(ctx)
		errC := s.ServeBackground(ctx)
		var svc idleService
		var tok = s.Add(svc)
		if err := s.RemoveAndWait(tok, 0); err != nil {
			panic(err)
		}
		return &dynamic{
			add: func() { tok = s.Add(svc) },
			remove: func() {
				if err := s.RemoveAndWait(tok, 0); err != nil {
					panic(err)
				}
			},
			close: func() error { cancel(); <-errC; return h.check() },
		}
	case "floor-ctx":
		started, done := make(readySignal), make(chan error)
		f := started.serve
		var cancel context.CancelFunc
		return &dynamic{
			add: func() {
				var ictx context.Context
				ictx, cancel = context.WithCancel(context.Background())
				go floorRunRecover(ictx, f, done)
				<-started
			},
			remove: func() {
				cancel()
				if err := <-done; err != nil {
					panic(err)
				}
			},
			close: func() error { return nil },
		}
	case "floor":
		started, done := make(chan struct{}), make(chan struct{})
		var stop chan struct{}
		return &dynamic{
			add: func() {
				stop = make(chan struct{})
				go func(stop chan struct{}) {
					started <- struct{}{}
					<-stop
					done <- struct{}{}
				}(stop)
				<-started
			},
			remove: func() {
				close(stop)
				<-done
			},
			close: func() error { return nil },
		}
	}
	panic("unknown variant " + variant)
}

// figDynamic is figure 6: per-call latency of a dynamic add and of a
// remove-and-wait, and the throughput of add+remove pairs (median of rounds).
func figDynamic(cfg config, variant string) (map[string]float64, error) {
	warm, rounds, m := 2000, 9, 10000
	if cfg.quick {
		warm, rounds, m = 500, 3, 2000
	}
	d := newDynamic(variant)
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

// dynamicFigs are the ids of the dynamic figures, in order.
var dynamicFigs = []string{"dynamic"}

// dynamicLabel names a dynamic figure in the targets.
func dynamicLabel(fig string) string {
	return "no other child live"
}
