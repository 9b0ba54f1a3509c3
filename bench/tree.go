package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
)

// readyIdle is the arbor child of figures 4 and 5: it reports ready, then
// idles until it is asked to stop.
var readyIdle = child.Func(func(ctx context.Context) error {
	child.Ready(ctx)
	<-ctx.Done()
	return nil
})

func readySpecs(n int) []child.Spec {
	specs := make([]child.Spec, n)
	for i := range specs {
		specs[i] = child.Spec{ID: "c" + strconv.Itoa(i), Service: readyIdle, AwaitReady: true}
	}
	return specs
}

// countingIdle is the suture service of figures 4 and 5: it counts itself in
// (the last one in closes all), then idles until its context is done.
type countingIdle struct {
	n   atomic.Int64
	of  int64
	all chan struct{}
}

func (c *countingIdle) String() string { return "idle" }

func (c *countingIdle) Serve(ctx context.Context) error {
	if c.n.Add(1) == c.of {
		close(c.all)
	}
	<-ctx.Done()
	return nil
}

// readySignal is the ready channel of the context floor's tree: its serve
// reports ready, then idles until its context is done (as readyIdle does).
type readySignal chan struct{}

func (r readySignal) serve(ctx context.Context) error {
	r <- struct{}{}
	<-ctx.Done()
	return nil
}

// tree is n idle children under one variant, started; stop stops them all.
type tree struct {
	spec   time.Duration // arbor: building the specs; 0 for the others
	build  time.Duration // arbor: supervisor.New; suture: suture.New and the Adds before Serve; 0 for the floors
	start  time.Duration // measured by startTree
	stop   time.Duration // measured by stopTree
	stopFn func() error
}

// startTree starts n idle children and returns once all are running. The
// start is timed apart from building the specs and the supervisor (arbor:
// the specs, then supervisor.New; suture: suture.New and the n Adds before
// Serve).
//
//   - arbor: a supervisor with n AwaitReady children, each calling
//     child.Ready; Start starts them one at a time, each after the previous
//     one reported ready. Stop stops them one at a time in reverse order,
//     each through its shutdown handshake.
//   - suture: n services added before Serve; Serve starts them one after
//     another without waiting for anything (no readiness), and the time runs
//     until every one of them has entered Serve. Cancelling Serve's context
//     stops them all in parallel (one goroutine per service), unordered.
//   - floor-ctx: n goroutines started one at a time, each with a fresh
//     cancellable context of its own and a deferred recover, each sending on
//     a ready channel that the starter waits on; stopped one at a time in
//     reverse order by cancelling its context and waiting on a done channel.
//   - floor: n goroutines started one at a time, each sending on a ready
//     channel that the starter waits on; stopped one at a time in reverse
//     order by closing its own stop channel and waiting on a done channel.
//   - floor-bare (memory only): n goroutines blocked on one shared channel.
func startTree(variant string, n int) *tree {
	tr := &tree{}
	switch variant {
	case "arbor":
		t0 := time.Now()
		specs := readySpecs(n)
		tr.spec = time.Since(t0)
		t0 = time.Now()
		s := newArbor(specs)
		tr.build = time.Since(t0)
		t0 = time.Now()
		if err := s.Start(context.Background()); err != nil {
			panic(err)
		}
		tr.start = time.Since(t0)
		tr.stopFn = func() error { return s.Stop(context.Background()) }
	case "suture":
		svc := &countingIdle{of: int64(n), all: make(chan struct{})}
		t0 := time.Now()
		s, h := newSuture()
		for range n {
			s.Add(svc)
		}
		tr.build = time.Since(t0)
		ctx, cancel := context.WithCancel(context.Background())
		t0 = time.Now()
		errC := s.ServeBackground(ctx)
		<-svc.all
		tr.start = time.Since(t0)
		tr.stopFn = func() error {
			cancel()
			if err := <-errC; err != context.Canceled {
				return fmt.Errorf("suture Serve returned %v", err)
			}
			return h.check()
		}
	case "floor-ctx":
		cancels := make([]context.CancelFunc, n)
		ready, done := make(readySignal), make(chan error)
		f := ready.serve
		t0 := time.Now()
		for i := range cancels {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			go floorRunRecover(ctx, f, done)
			<-ready
		}
		tr.start = time.Since(t0)
		tr.stopFn = func() error {
			for i := len(cancels) - 1; i >= 0; i-- {
				cancels[i]()
				if err := <-done; err != nil {
					return err
				}
			}
			return nil
		}
	case "floor":
		type floorChild struct{ stop chan struct{} }
		cs := make([]floorChild, n)
		ready, done := make(chan struct{}), make(chan struct{})
		t0 := time.Now()
		for i := range cs {
			stop := make(chan struct{})
			cs[i].stop = stop
			go func() {
				ready <- struct{}{}
				<-stop
				done <- struct{}{}
			}()
			<-ready
		}
		tr.start = time.Since(t0)
		tr.stopFn = func() error {
			for i := len(cs) - 1; i >= 0; i-- {
				close(cs[i].stop)
				<-done
			}
			return nil
		}
	case "floor-bare":
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(n)
		t0 := time.Now()
		for range n {
			go func() {
				wg.Done()
				<-stop
			}()
		}
		wg.Wait()
		tr.start = time.Since(t0)
		tr.stopFn = func() error { close(stop); return nil }
	default:
		panic("unknown variant " + variant)
	}
	return tr
}

func (tr *tree) stopTree() error {
	t0 := time.Now()
	err := tr.stopFn()
	tr.stop = time.Since(t0)
	return err
}

// figOrdered is figure 4: ordered start with readiness and reverse ordered
// stop of n children, per child.
//
// A warm-up tree of the same variant and the same size runs first, and the
// measurement waits until every goroutine it started has exited: each
// variant's start is then served from the same pool of freed goroutines (a
// start is mostly goroutine creation, suture's above all), so no variant
// pays for fresh stacks that another reuses.
func figOrdered(n int) func(cfg config, variant string) (map[string]float64, error) {
	return func(cfg config, variant string) (map[string]float64, error) {
		g0 := runtime.NumGoroutine()
		w := startTree(variant, n)
		if err := w.stopTree(); err != nil {
			return nil, err
		}
		if err := waitGoroutines(g0); err != nil {
			return nil, err
		}
		runtime.GC()
		var am allocMeter
		am.begin()
		tr := startTree(variant, n)
		allocs, _ := am.end(n)
		if err := tr.stopTree(); err != nil {
			return nil, err
		}
		res := map[string]float64{
			"start_us":     us(float64(tr.start) / float64(n)),
			"stop_us":      us(float64(tr.stop) / float64(n)),
			"allocs_child": allocs,
		}
		if tr.spec > 0 {
			res["spec_us"] = us(float64(tr.spec) / float64(n))
		}
		if tr.build > 0 {
			res["new_us"] = us(float64(tr.build) / float64(n))
		}
		return res, nil
	}
}

// figMemory is figure 5: memory and goroutines per idle child, with n idle
// children, measured in a fresh process with no warm-up (so that no freed
// goroutine stacks are waiting to be reused).
func figMemory(cfg config, variant string) (map[string]float64, error) {
	n := 10000
	h0, s0 := inUse()
	g0 := runtime.NumGoroutine()
	tr := startTree(variant, n)
	h1, s1 := inUse()
	g1 := runtime.NumGoroutine()
	if cfg.memProf {
		if err := writeHeapProfile(cfg, "memory-"+variant+".heap.pprof"); err != nil {
			return nil, err
		}
	}
	if err := tr.stopTree(); err != nil {
		return nil, err
	}
	heap, stack := float64(h1)-float64(h0), float64(s1)-float64(s0)
	return map[string]float64{
		"bytes_child":      (heap + stack) / float64(n),
		"heap_child":       heap / float64(n),
		"stack_child":      stack / float64(n),
		"goroutines_child": float64(g1-g0) / float64(n),
	}, nil
}

// writeHeapProfile writes the live heap, every allocation sampled.
func writeHeapProfile(cfg config, name string) error {
	f, err := os.Create(filepath.Join(cfg.profDir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// waitGoroutines waits until at most n goroutines are left, so that the
// goroutines of a warm-up have exited (and their stacks are free for reuse)
// before a measurement starts.
func waitGoroutines(n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: %d goroutines still running, want at most %d", runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
