package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/thejerf/suture/v4"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
)

// arborIntensity is high enough that no figure ever reaches it: every restart
// of a run stays inside the window (the worst case for a window that is walked).
var arborIntensity = escalation.Intensity{MaxRestarts: 10_000_000, Period: time.Hour}

// newArbor builds an arbor supervisor with the settings used by every figure:
// one_for_one (the default), no backoff (the default: restarts are immediate),
// the no-op logger (the default), no hooks, and arborIntensity.
func newArbor(specs []child.Spec) *supervisor.Supervisor {
	s, err := supervisor.New("bench", specs, supervisor.WithIntensity(arborIntensity))
	if err != nil {
		panic(err)
	}
	return s
}

// sutureHook observes suture's restarts through its EventHook. backoffs must
// stay 0: with the spec below suture never enters its backoff state.
type sutureHook struct {
	restarts atomic.Int64
	backoffs atomic.Int64
	timeouts atomic.Int64
}

func (h *sutureHook) hook(e suture.Event) {
	switch ev := e.(type) {
	case suture.EventServiceTerminate:
		if ev.Restarting {
			h.restarts.Add(1)
		}
	case suture.EventServicePanic:
		if ev.Restarting {
			h.restarts.Add(1)
		}
	case suture.EventBackoff:
		h.backoffs.Add(1)
	case suture.EventStopTimeout:
		h.timeouts.Add(1)
	}
}

// newSuture builds a suture supervisor that never backs off: its failure
// count (incremented per failure, halved every FailureDecay seconds) can never
// pass FailureThreshold, and FailureBackoff is 1 ns with no jitter in case it
// did. Timeout (the per-service stop budget) is 10 s, as its default. The
// EventHook replaces the default one, which would log every restart.
func newSuture() (*suture.Supervisor, *sutureHook) {
	h := &sutureHook{}
	s := suture.New("bench", suture.Spec{
		EventHook:        h.hook,
		FailureDecay:     30,
		FailureThreshold: 1e18,
		FailureBackoff:   time.Nanosecond,
		BackoffJitter:    suture.NoJitter{},
		Timeout:          10 * time.Second,
	})
	return s, h
}

func (h *sutureHook) check() error {
	if n := h.backoffs.Load(); n != 0 {
		return fmt.Errorf("suture backed off %d times", n)
	}
	if n := h.timeouts.Load(); n != 0 {
		return fmt.Errorf("suture reported %d stop timeouts", n)
	}
	return nil
}

// floorPanic is what the floor keeps of a recovered panic: the value and the
// program counters, the same capture the supervisor makes.
type floorPanic struct {
	value any
	pcs   []uintptr
}

func (p *floorPanic) Error() string { return fmt.Sprint("panic: ", p.value) }

// floorSupervise is the plain-goroutine floor of a supervisor: a loop that
// runs f on a new goroutine, waits for its end on a channel (the done
// handshake) and runs it again, until ctx is done. With recoverPanics, each
// run recovers a panic and captures its program counters with runtime.Callers.
func floorSupervise(ctx context.Context, f func(context.Context) error, recoverPanics bool) {
	done := make(chan error)
	for {
		if recoverPanics {
			go floorRunRecover(ctx, f, done)
		} else {
			go func() { done <- f(ctx) }()
		}
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

func floorRunRecover(ctx context.Context, f func(context.Context) error, done chan<- error) {
	returned := false
	var err error
	defer func() {
		if !returned {
			v := recover()
			var buf [64]uintptr
			n := runtime.Callers(3, buf[:])
			err = &floorPanic{value: v, pcs: slices.Clone(buf[:n])}
		}
		done <- err
	}()
	err = f(ctx)
	returned = true
}

// floorCtxSupervise is the context floor of a supervisor: each incarnation
// gets a fresh cancellable context of its own (context.WithCancel, not derived
// from ctx: the loop cancels it itself), runs on a new goroutine under a
// deferred recover that captures the program counters of a panic, and reports
// its end on a done channel; the loop then cancels the incarnation's context
// and runs the next one, until ctx is done.
func floorCtxSupervise(ctx context.Context, f func(context.Context) error) {
	done := make(chan error)
	for {
		ictx, cancel := context.WithCancel(context.Background())
		go floorRunRecover(ictx, f, done)
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
			cancel()
			<-done
			return
		}
	}
}
