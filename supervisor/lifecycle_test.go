package supervisor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// The lifecycle exists from New. Ready and Done are
// channels before Serve begins, so `go s.Serve(ctx); <-s.Ready()` works.
func TestReadyAndDoneBeforeServe(t *testing.T) {
	a := newProbe("a", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()))
	ready, done := s.Ready(), s.Done()
	if ready == nil || done == nil {
		t.Fatalf("Ready() = %v, Done() = %v before Serve: want channels", ready, done)
	}
	v := serveAsync(t, s)
	recv(t, ready, "Ready")
	select {
	case <-done:
		t.Fatal("Done closed while Serve runs")
	default:
	}
	v.cancel()
	recv(t, done, "Done")
	if err := v.wait(t); err != nil {
		t.Fatal(err)
	}
}

// A Stop before Serve begins is not lost: that Serve starts
// nothing and returns at once. It does not carry over to a later Serve.
func TestStopBeforeServeLatches(t *testing.T) {
	j := &journal{}
	a := newProbe("a", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	if err := s.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop before Serve = %v", err)
	}
	if err := s.Serve(testCtx(t)); err != nil {
		t.Fatalf("Serve after Stop = %v, want nil at once", err)
	}
	if got := j.get(); len(got) != 0 {
		t.Fatalf("journal %q: Serve started children after a Stop", got)
	}
	recv(t, s.Done(), "Done of the stopped run")
	// A later Serve is a new run, not stopped by the earlier Stop.
	startT(t, s)
	a.waitStart(t, 1)
	info, err := s.Info(testCtx(t))
	if err != nil || info.Run != 2 || info.Stopping {
		t.Fatalf("Info of the second Serve = %+v, %v; want run 2, not stopping", info, err)
	}
	if ev := waitEvent(t, rec, supervisor.ChildStarted, "a", 1); ev.Run != 2 || ev.Incarnation != 1 {
		t.Fatalf("child_started: run %d incarnation %d, want run 2 incarnation 1", ev.Run, ev.Incarnation)
	}
}

// Wait called before Serve waits for that Serve, instead of
// returning nil at once.
func TestWaitBeforeServeWaitsForIt(t *testing.T) {
	s := mustNew(t, "root", []child.Spec{pspec(newProbe("a", nil))}, supervisor.WithClock(newClock()))
	waited := make(chan error, 1)
	// Ends when the Serve below returns.
	go func() { waited <- s.Wait() }()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	// Ends when ctx is cancelled below.
	go func() { served <- s.Serve(ctx) }()
	recv(t, s.Ready(), "Ready")
	select {
	case err := <-waited:
		t.Fatalf("Wait returned %v while Serve runs", err)
	default:
	}
	cancel()
	if err := recv(t, served, "Serve"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, waited, "Wait"); err != nil {
		t.Fatal(err)
	}
}

// Start returns once its ctx is done, without waiting for
// the children already started to stop.
func TestStartReturnsOnceCtxDone(t *testing.T) {
	a := newStubborn(t, "a", nil)
	bStarted := make(chan struct{}, 1)
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: a, AwaitReady: true, Shutdown: child.Infinity},
		{ID: "b", Service: neverReady("b", &journal{}, bStarted), AwaitReady: true, StartTimeout: child.Infinity},
	}, supervisor.WithClock(newClock()))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	// Ends when Start returns, after the cancel below.
	go func() { started <- s.Start(ctx) }()
	recv(t, bStarted, "b to start")
	cancel()
	if err := recv(t, started, "Start"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled while a is still stopping", err)
	}
	recv(t, a.cancelled, "a to be stopped")
	a.free()
	if err := waitSup(t, s); err != nil {
		t.Fatalf("Wait = %v", err)
	}
}

// Child events carry the run and the incarnation, so an
// exit, a stop and a start can be matched; ChildStopped keeps what the child
// returned; simple_one_for_one instances report their start.
func TestEventsCarryRunAndIncarnation(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	a.crash(t, errBoom)
	a.waitStart(t, 2)
	if err := s.TerminateChild(testCtx(t), "a"); err != nil {
		t.Fatal(err)
	}
	exited := waitEvent(t, rec, supervisor.ChildExited, "a", 1)
	second := waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	stopped := waitEvent(t, rec, supervisor.ChildStopped, "a", 1)
	if exited.Incarnation != 1 || second.Incarnation != 2 || stopped.Incarnation != 2 {
		t.Fatalf("incarnations: exited %d, started %d, stopped %d; want 1, 2, 2", exited.Incarnation, second.Incarnation, stopped.Incarnation)
	}
	if exited.Run != 1 || stopped.Run != 1 {
		t.Fatalf("runs %d, %d; want 1", exited.Run, stopped.Run)
	}
	if stopped.Err != nil || !errors.Is(stopped.Returned, context.Canceled) {
		t.Fatalf("child_stopped: Err %v, Returned %v; want a clean stop that kept context.Canceled", stopped.Err, stopped.Returned)
	}

	prec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w"}, func(ctx context.Context, _ string) error { <-ctx.Done(); return nil },
		supervisor.WithClock(newClock()), supervisor.WithHook(prec.Hook()))
	h, err := p.StartChild(testCtx(t), "x")
	if err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, prec, supervisor.ChildStarted, h.ID(), 1); ev.Incarnation != 1 {
		t.Fatalf("instance child_started: %+v", ev)
	}
}

// Once child.Ready returns, the supervisor no longer waits
// on the child, so the child's next call, made with its own context, is not
// refused with ErrBusyWithCaller.
func TestCallRightAfterReadyIsNotBusy(t *testing.T) {
	for i := range 50 {
		var s *supervisor.Supervisor
		res := make(chan error, 1)
		a := child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			res <- s.StartChild(ctx, child.Spec{ID: "x", Service: child.Func(func(ctx context.Context) error { <-ctx.Done(); return nil })})
			<-ctx.Done()
			return nil
		})
		s = mustNew(t, "root", []child.Spec{{ID: "a", Service: a, AwaitReady: true}}, supervisor.WithClock(newClock()))
		v := serveAsync(t, s)
		if err := recv(t, res, "a's StartChild"); err != nil {
			t.Fatalf("iteration %d: StartChild right after Ready = %v", i, err)
		}
		v.cancel()
		if err := v.wait(t); err != nil {
			t.Fatal(err)
		}
	}
}

// A Simple.StartChild whose ctx ends during the instance's
// start stops the instance and returns ctx.Err() with the instance's Handle.
func TestSimpleStartChildCtxEndsDuringStart(t *testing.T) {
	starting := make(chan struct{}, 1)
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true, StartTimeout: child.Infinity},
		func(ctx context.Context, _ string) error {
			starting <- struct{}{}
			<-ctx.Done() // never ready
			return nil
		}, supervisor.WithClock(newClock()))
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		h   supervisor.Handle
		err error
	}
	res := make(chan result, 1)
	// Ends when StartChild returns, after the cancel below.
	go func() { h, err := p.StartChild(ctx, "x"); res <- result{h, err} }()
	recv(t, starting, "the instance to start")
	cancel()
	r := recv(t, res, "StartChild")
	if !errors.Is(r.err, context.Canceled) || r.h.IsZero() {
		t.Fatalf("StartChild = %q, %v; want the instance's Handle and context.Canceled", r.h.ID(), r.err)
	}
	settleSimple(t, p)
	if infos := children(t, p); len(infos) != 0 {
		t.Fatalf("children %v after the caller gave up, want none", states(infos))
	}
	if err := p.TerminateChild(testCtx(t), r.h); err != nil {
		t.Fatalf("TerminateChild of the stopped instance = %v", err)
	}
	// A call whose ctx has already ended starts nothing.
	h, err := p.StartChild(ctx, "y")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("StartChild with a done ctx = %q, %v", h.ID(), err)
	}
	if infos := children(t, p); len(infos) != 0 {
		t.Fatalf("children %v, want none", states(infos))
	}
}
