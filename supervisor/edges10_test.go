package supervisor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// a2, a9: StartChild rejects a significant spec under auto-shutdown Never, as
// New, CheckSpecs and Apply do, with the same SpecError, and keeps nothing.
func TestStartChildRejectsSignificantUnderNever(t *testing.T) {
	sup := mustNew(t, "root", nil)
	startT(t, sup)
	p := newProbe("s", nil)
	err := sup.StartChild(testCtx(t), significant(p, child.Transient))
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "Significant" || se.ID != "s" {
		t.Fatalf("StartChild(significant) = %v, want a SpecError on Significant", err)
	}
	if !errors.Is(err, child.ErrInvalidSpec) {
		t.Fatalf("StartChild(significant) = %v, want it to match ErrInvalidSpec", err)
	}
	_, newErr := supervisor.New("root", []child.Spec{significant(p, child.Transient)})
	var ne *child.SpecError
	if !errors.As(newErr, &ne) || ne.Error() != se.Error() {
		t.Fatalf("New's error %v and StartChild's %v differ", newErr, err)
	}
	wantStates(t, sup)
	if c, err := sup.CountChildren(testCtx(t)); err != nil || c.Specs != 0 {
		t.Fatalf("CountChildren = %+v, %v, want no spec", c, err)
	}
	if n := p.incarnations(); n != 0 {
		t.Fatalf("the rejected child ran %d times", n)
	}
}

// settleSimple waits until p has finished any start or stop in progress (see
// settle): Apply with the configuration p already has is a call that changes
// nothing, and it is answered only between starts and stops.
func settleSimple[A any](t *testing.T, p *supervisor.Simple[A]) {
	t.Helper()
	if _, err := p.Apply(testCtx(t), p.Config()); err != nil {
		t.Fatalf("settle: Apply = %v", err)
	}
}

// a10: an instance of a transient template that ends normally is not
// restarted and is deleted, as OTP deletes every instance it does not
// restart; one that crashes is restarted with the same argument.
func TestSimpleTransientInstanceDeletedAfterNormalExit(t *testing.T) {
	in := newInstances()
	rec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w", Restart: child.Transient, AwaitReady: true}, in.start,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}),
		supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	ctx := testCtx(t)
	for _, arg := range []string{"done", "crash"} {
		if _, err := p.StartChild(ctx, arg); err != nil {
			t.Fatal(err)
		}
		recv(t, in.started, arg)
	}
	in.exitChan("done") <- nil
	if ev := waitEvent(t, rec, supervisor.ChildExited, "w#1", 1); ev.Restarted {
		t.Fatal("a transient instance that ended normally was restarted")
	}
	wantStates(t, p, "w#2=running")
	if c, err := p.CountChildren(ctx); err != nil || c != (supervisor.Counts{Specs: 1, Active: 1, Workers: 1}) {
		t.Fatalf("CountChildren = %+v, %v, want the running instance only", c, err)
	}

	in.exitChan("crash") <- errBoom
	if got := recv(t, in.started, "crash restarted"); got != "crash" {
		t.Fatalf("restarted with %q, want crash", got)
	}
	settleSimple(t, p)
	if w2 := find(t, wantStates(t, p, "w#2=running"), "w#2"); w2.Restarts != 1 {
		t.Fatalf("w#2 restarts = %d, want 1", w2.Restarts)
	}
}

// a10: an instance that needed a restart but did not get one (here the
// supervisor gave up) is deleted at once, not listed as stopped while the
// others are being shut down.
func TestSimpleInstanceNotRestartedIsDeleted(t *testing.T) {
	rec := supervisortest.NewRecorder()
	cancelled := make(chan struct{}, 1)
	release, open := newGate(t)
	in := newInstances()
	start := func(ctx context.Context, arg string) error {
		if arg != "stuck" {
			return in.start(ctx, arg)
		}
		child.Ready(ctx)
		<-ctx.Done()
		cancelled <- struct{}{}
		<-release
		return ctx.Err()
	}
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true, Shutdown: child.Infinity}, start,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	defer open() // before the cleanup's Stop, should the test fail
	ctx := testCtx(t)
	for _, arg := range []string{"stuck", "crash"} {
		if _, err := p.StartChild(ctx, arg); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, in.started, "crash")
	in.exitChan("crash") <- errBoom
	waitEvent(t, rec, supervisor.IntensityExceeded, "w#2", 1)
	recv(t, cancelled, "stuck cancelled") // the shutdown waits for it
	wantStates(t, p, "w#1=stopping")
	open()
	if err := waitSup(t, p); !errors.Is(err, escalation.ErrExceeded) {
		t.Fatalf("Serve = %v, want ErrExceeded", err)
	}
}

// a9: all_significant counts a significant child waiting for its restart (a
// backoff delay here) as alive, as OTP does: another significant child's
// normal exit does not shut the supervisor down; the last one's does.
func TestAllSignificantCountsRestartingAsAlive(t *testing.T) {
	clock := newClock()
	rec := supervisortest.NewRecorder()
	s1, s2 := newProbe("s1", nil), newProbe("s2", nil)
	sup := mustNew(t, "root", []child.Spec{significant(s1, child.Transient), significant(s2, child.Transient)},
		supervisor.WithAutoShutdown(supervisor.AutoShutdownAllSignificant), lenient, constantBackoff(time.Second),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, sup)
	s1.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "s1", 1)
	s2.crash(t, nil)
	waitEvent(t, rec, supervisor.ChildExited, "s2", 1)
	wantStates(t, sup, "s1=restarting", "s2=stopped") // still serving
	if n := rec.Count(supervisor.AutoShutdownTriggered, ""); n != 0 {
		t.Fatalf("%d auto-shutdowns while s1 waits for its restart", n)
	}

	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	waitEvent(t, rec, supervisor.ChildStarted, "s1", 2)
	s1.crash(t, nil)
	if err := waitSup(t, sup); err != nil {
		t.Fatalf("Serve = %v, want nil (auto-shutdown)", err)
	}
	waitEvent(t, rec, supervisor.AutoShutdownTriggered, "s1", 1)
}

// notBuilt is what a supervisor not made by New or NewSimple offers.
type notBuilt interface {
	Serve(context.Context) error
	Start(context.Context) error
	Stop(context.Context) error
	Wait() error
	Ready() <-chan struct{}
	Done() <-chan struct{}
	Apply(context.Context, supervisor.Config) (supervisor.Changes, error)
	Config() supervisor.Config
	Children(context.Context) ([]supervisor.ChildInfo, error)
	CountChildren(context.Context) (supervisor.Counts, error)
	ChildSpec(context.Context, string) (child.Spec, error)
	Info(context.Context) (supervisor.Info, error)
	Tree(context.Context) (*supervisor.Tree, error)
	Name() string
	String() string
}

// wantNotBuilt fails the test unless f returns ErrNotBuilt without panicking.
func wantNotBuilt(t *testing.T, what string, f func() error) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v", what, v)
		}
	}()
	if err := f(); !errors.Is(err, supervisor.ErrNotBuilt) {
		t.Errorf("%s = %v, want ErrNotBuilt", what, err)
	}
}

// wantNoPanic fails the test if f panics.
func wantNoPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v", what, v)
		}
	}()
	f()
}

func checkNotBuilt(t *testing.T, s notBuilt) {
	t.Helper()
	ctx := testCtx(t)
	cfg := supervisor.Config{Children: []child.Spec{pspec(newProbe("a", nil))}}
	wantNotBuilt(t, "Serve", func() error { return s.Serve(ctx) })
	wantNotBuilt(t, "Start", func() error { return s.Start(ctx) })
	wantNotBuilt(t, "Stop", func() error { return s.Stop(ctx) })
	wantNotBuilt(t, "Wait", s.Wait)
	wantNotBuilt(t, "Apply", func() error { _, err := s.Apply(ctx, cfg); return err })
	wantNotBuilt(t, "Children", func() error { _, err := s.Children(ctx); return err })
	wantNotBuilt(t, "CountChildren", func() error { _, err := s.CountChildren(ctx); return err })
	wantNotBuilt(t, "ChildSpec", func() error { _, err := s.ChildSpec(ctx, "a"); return err })
	wantNotBuilt(t, "Info", func() error { _, err := s.Info(ctx); return err })
	wantNotBuilt(t, "Tree", func() error { _, err := s.Tree(ctx); return err })
	wantNoPanic(t, "Ready", func() {
		if c := s.Ready(); c != nil {
			t.Errorf("Ready = %v, want nil", c)
		}
	})
	wantNoPanic(t, "Done", func() {
		if c := s.Done(); c != nil {
			t.Errorf("Done = %v, want nil", c)
		}
	})
	wantNoPanic(t, "Config", func() {
		if c := s.Config(); c.Children != nil || c.Strategy != 0 || c.AutoShutdown != 0 || c.Intensity != (escalation.Intensity{}) {
			t.Errorf("Config = %+v, want the zero Config", c)
		}
	})
	wantNoPanic(t, "Name", func() {
		if n := s.Name(); n != "" {
			t.Errorf("Name = %q, want empty", n)
		}
	})
	wantNoPanic(t, "String", func() { _ = s.String() })
	wantNotBuilt(t, "Serve after Apply", func() error { return s.Serve(ctx) }) // Apply made nothing usable
}

// A zero Supervisor, and a zero Simple, return ErrNotBuilt from every method
// that returns an error, and harmless values from the others; none panics.
func TestZeroSupervisorReturnsErrNotBuilt(t *testing.T) {
	t.Run("Supervisor", func(t *testing.T) {
		s := new(supervisor.Supervisor)
		checkNotBuilt(t, s)
		ctx := testCtx(t)
		wantNotBuilt(t, "StartChild", func() error { return s.StartChild(ctx, pspec(newProbe("a", nil))) })
		wantNotBuilt(t, "TerminateChild", func() error { return s.TerminateChild(ctx, "a") })
		wantNotBuilt(t, "RestartChild", func() error { return s.RestartChild(ctx, "a") })
		wantNotBuilt(t, "DeleteChild", func() error { return s.DeleteChild(ctx, "a") })
		wantNoPanic(t, "Strategy", func() { _ = s.Strategy() })
	})
	t.Run("Simple", func(t *testing.T) {
		p := new(supervisor.Simple[string])
		checkNotBuilt(t, p)
		ctx := testCtx(t)
		wantNotBuilt(t, "StartChild", func() error { _, err := p.StartChild(ctx, "x"); return err })
		wantNotBuilt(t, "TerminateChild", func() error { return p.TerminateChild(ctx, supervisor.Handle{}) })
	})
	t.Run("child", func(t *testing.T) {
		// As a nested supervisor, it fails its start with that error.
		root := mustNew(t, "root", []child.Spec{{ID: "sub", Service: new(supervisor.Supervisor), Kind: child.KindSupervisor}})
		if err := root.Start(testCtx(t)); !errors.Is(err, supervisor.ErrNotBuilt) {
			t.Fatalf("Start = %v, want a start failure wrapping ErrNotBuilt", err)
		}
	})
}

// sentSpy is a call's context that tells when the call has been delivered: the
// call reads Done once to send its request, and again to wait for the reply.
type sentSpy struct {
	context.Context
	dones atomic.Int32
	sent  chan struct{} // closed at the second Done
}

func (s *sentSpy) Done() <-chan struct{} {
	if s.dones.Add(1) == 2 {
		close(s.sent)
	}
	return s.Context.Done()
}

// a12: ErrBusyWithCaller is decided by identity, not by path: a child of an
// unrelated tree whose names are the same is not the child the supervisor
// waits on, so its call waits for that start to end and then succeeds.
func TestBusyWithCallerComparesIdentities(t *testing.T) {
	// Tree A, "root", waits on its child "c", which is not ready yet.
	gate, open := newGate(t)
	starting := make(chan struct{})
	ac := newProbe("c", nil)
	ac.onStart = func(ctx context.Context, n int) error {
		if n == 1 {
			close(starting)
			<-gate
		}
		return nil
	}
	treeA := mustNew(t, "root", []child.Spec{pspec(ac)})
	serveAsync(t, treeA)
	defer open() // before the cleanups, should the test fail

	// Tree B, also "root", with a child "c" of its own that calls tree A.
	call, sent := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	bc := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		select {
		case <-call:
		case <-ctx.Done():
			return ctx.Err()
		}
		result <- treeA.StartChild(&sentSpy{Context: ctx, sent: sent}, pspec(newProbe("x", nil)))
		<-ctx.Done()
		return ctx.Err()
	})
	treeB := mustNew(t, "root", []child.Spec{{ID: "c", Service: bc, AwaitReady: true}})
	startT(t, treeB)

	recv(t, starting, "tree A's c starting")
	close(call)
	recv(t, sent, "the call delivered to tree A") // while tree A still waits on its c
	open()                                        // tree A's c reports ready; a deferred call is carried out
	if err := recv(t, result, "StartChild from tree B"); err != nil {
		t.Fatalf("StartChild from tree B's c = %v, want nil once tree A's c is ready", err)
	}
	wantStates(t, treeA, "c=running", "x=running")
}

// a12: a call from below the child the supervisor waits on is still refused:
// the child of a nested supervisor calls the root while the root waits on
// that nested supervisor's start.
func TestBusyWithCallerFromBelowAwaitedChild(t *testing.T) {
	var root *supervisor.Supervisor
	refused := make(chan error, 1)
	inner := child.Func(func(ctx context.Context) error {
		refused <- root.StartChild(ctx, pspec(newProbe("x", nil)))
		child.Ready(ctx)
		<-ctx.Done()
		return ctx.Err()
	})
	sub := mustNew(t, "sub", []child.Spec{{ID: "inner", Service: inner, AwaitReady: true}})
	root = mustNew(t, "root", []child.Spec{{ID: "sub", Service: sub, Kind: child.KindSupervisor}})
	startT(t, root)
	if err := recv(t, refused, "call from root/sub/inner"); !errors.Is(err, supervisor.ErrBusyWithCaller) {
		t.Fatalf("StartChild from below the awaited child = %v, want ErrBusyWithCaller", err)
	}
}
