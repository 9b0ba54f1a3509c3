package supervisor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// a8: an abandonment deep in the tree reaches the root's Stop.
func TestNestedAbandonmentReachesRoot(t *testing.T) {
	clock := newClock()
	stuck := newStubborn(t, "stuck", nil)
	sub := mustNew(t, "sub", []child.Spec{{ID: "stuck", Service: stuck, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: time.Second}},
		supervisor.WithClock(clock))
	root := mustNew(t, "root", []child.Spec{{ID: "sub", Service: sub, Kind: child.KindSupervisor}}, supervisor.WithClock(clock))
	startT(t, root)
	done := make(chan error, 1)
	// Ends when Stop returns, once the clock passes stuck's budget.
	go func() { done <- root.Stop(context.Background()) }()
	recv(t, stuck.cancelled, "stuck cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err := recv(t, done, "root Stop")
	sts := stopTimeouts(err)
	if len(sts) != 1 || sts[0].Child != "stuck" || sts[0].Supervisor != "root/sub" {
		t.Fatalf("root Stop = %v, want the abandonment of root/sub/stuck", err)
	}
}

// a3, a8: a Stop during the initial start is a requested stop, not a start
// failure: Serve returns nil, Start reports that it was stopped.
func TestStopDuringStart(t *testing.T) {
	j := &journal{}
	a := newProbe("a", j)
	gate, open := newGate(t)
	blocked := make(chan struct{})
	b := newProbe("b", j)
	b.onStart = func(ctx context.Context, _ int) error {
		close(blocked)
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)})
	startErr := make(chan error, 1)
	// Ends when Start returns, after the Stop below.
	go func() { startErr <- s.Start(context.Background()) }()
	recv(t, blocked, "b starting")
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop = %v, want nil", err)
	}
	open()
	if err := recv(t, startErr, "Start"); !errors.Is(err, supervisor.ErrStopping) {
		t.Fatalf("Start = %v, want ErrStopping", err)
	}
	wantJournal(t, j, "start a", "start b", "fail b", "stop a")
}

// a10: instance IDs are unique across Serves, so a handle kept from an
// earlier Serve never terminates an instance of a later one.
func TestSimpleHandleFromEarlierServe(t *testing.T) {
	in := newInstances()
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "w", AwaitReady: true}, in.start)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := p.StartChild(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "first")
	if err := stop(t, p); err != nil {
		t.Fatal(err)
	}
	startT(t, p)
	h, err := p.StartChild(ctx, "second")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "second")
	if h.ID() == old.ID() {
		t.Fatalf("new instance reuses ID %q", h.ID())
	}
	if err := p.TerminateChild(ctx, old); err != nil {
		t.Fatalf("TerminateChild(old handle) = %v, want nil (already gone)", err)
	}
	if infos, _ := p.Children(ctx); len(infos) != 1 || infos[0].ID != h.ID() || infos[0].State != supervisor.StateRunning {
		t.Fatalf("children = %+v, want %s running", infos, h.ID())
	}
}

// a8: BrutalKill does not wait; the abandonment is expected, not an error.
func TestBrutalKill(t *testing.T) {
	stuck := newStubborn(t, "k", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "k", Service: stuck, AwaitReady: true, Shutdown: child.BrutalKill}},
		supervisor.WithHook(rec.Hook()))
	startT(t, s)
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop = %v, want nil", err)
	}
	ev := waitEvent(t, rec, supervisor.ChildAbandoned, "k", 1)
	if ev.Err != nil || ev.Context() != "" {
		t.Fatalf("ChildAbandoned for a brutal kill: err %v, context %q; want none", ev.Err, ev.Context())
	}
}

// Children shows a child waited on for its readiness as starting, one waited
// on for its return as stopping, and whether its last exit was requested.
func TestStartingStoppingStatesAndRequestedExit(t *testing.T) {
	clock := newClock()
	gate, open := newGate(t)
	slow := newProbe("slow", nil)
	slow.onStart = func(ctx context.Context, _ int) error {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return nil
	}
	stuck := newStubborn(t, "stuck", nil)
	s := mustNew(t, "root", []child.Spec{{ID: "stuck", Service: stuck, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: time.Minute}},
		supervisor.WithClock(clock))
	startT(t, s)
	ctx := testCtx(t)

	added := make(chan error, 1)
	// Ends when StartChild returns, once the gate opens.
	go func() { added <- s.StartChild(ctx, pspec(slow)) }()
	slow.waitStart(t, 1)
	if got := find(t, children(t, s), "slow"); got.State != supervisor.StateStarting || got.Started.IsZero() {
		t.Fatalf("slow while awaited: %+v, want starting with a start time", got)
	}
	open()
	if err := recv(t, added, "StartChild"); err != nil {
		t.Fatal(err)
	}

	terminated := make(chan error, 1)
	// Ends when TerminateChild returns, once stuck is freed.
	go func() { terminated <- s.TerminateChild(ctx, "stuck") }()
	recv(t, stuck.cancelled, "stuck cancelled")
	if got := find(t, children(t, s), "stuck"); got.State != supervisor.StateStopping {
		t.Fatalf("stuck while stopping: %v, want stopping", got.State)
	}
	stuck.free()
	if err := recv(t, terminated, "TerminateChild"); err != nil {
		t.Fatal(err)
	}
	if got := find(t, children(t, s), "stuck"); got.State != supervisor.StateStopped || !got.LastExitRequested {
		t.Fatalf("stuck after TerminateChild: %+v, want stopped with a requested exit", got)
	}
	slow.crash(t, errBoom)
	slow.waitStart(t, 2)
	settle(t, s) // the restart's start has completed
	if got := find(t, children(t, s), "slow"); got.LastExitRequested || !errors.Is(got.LastExit, errBoom) {
		t.Fatalf("slow after a crash: %+v, want an unrequested exit with errBoom", got)
	}
}

// helperGoroutine is started by a stuck child; it inherits the child's pprof label.
func helperGoroutine(release <-chan struct{}, running chan<- struct{}) {
	running <- struct{}{}
	<-release
}

// a8, operations: a child that overruns its budget is reported with the
// stacks of its own goroutines, found by their pprof label: the child's and
// one it started, and nobody else's.
func TestStopTimeoutCarriesTheChildsStacks(t *testing.T) {
	clock := newClock()
	stuck := newStubborn(t, "stuck", nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	running := make(chan struct{})
	spawner := child.Func(func(ctx context.Context) error {
		// Ends when the test closes release.
		go helperGoroutine(release, running)
		<-running
		return stuck.Serve(ctx)
	})
	other := newProbe("other", nil)
	s := mustNew(t, "stacks", []child.Spec{
		pspec(other),
		{ID: "stuck", Service: spawner, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: time.Second},
	}, supervisor.WithClock(clock))
	startT(t, s)
	done := make(chan error, 1)
	// Ends when TerminateChild returns, once the clock passes the budget.
	go func() { done <- s.TerminateChild(testCtx(t), "stuck") }()
	recv(t, stuck.cancelled, "stuck cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	var st *supervisor.StopTimeoutError
	if err := recv(t, done, "TerminateChild"); !errors.As(err, &st) {
		t.Fatalf("TerminateChild = %v, want a StopTimeoutError", err)
	}
	for _, want := range []string{"(*stubborn).Serve", "supervisor_test.helperGoroutine", `"arbor_child":"stacks/stuck"`} {
		if !strings.Contains(st.Stacks, want) {
			t.Errorf("stacks lack %s:\n%s", want, st.Stacks)
		}
	}
	if strings.Contains(st.Stacks, "(*probe).Serve") || strings.Contains(st.Stacks, "goroutine profile:") {
		t.Errorf("stacks hold more than the stuck child's goroutines:\n%s", st.Stacks)
	}
}

// a11: calls from inside a child never deadlock. A change asked by the child
// the supervisor is waiting on for readiness is refused at once; one asked
// during shutdown gets ErrStopping at once.
func TestCallsFromAwaitedChildDoNotDeadlock(t *testing.T) {
	var sup *supervisor.Supervisor
	beforeReady := make(chan error, 1)
	duringStop := make(chan error, 1)
	svc := child.Func(func(ctx context.Context) error {
		beforeReady <- sup.StartChild(ctx, pspec(newProbe("x", nil)))
		child.Ready(ctx)
		<-ctx.Done()
		duringStop <- sup.StartChild(context.Background(), pspec(newProbe("y", nil)))
		return nil
	})
	sup = mustNew(t, "root", []child.Spec{{ID: "caller", Service: svc, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: child.Infinity}})
	startT(t, sup)
	if err := recv(t, beforeReady, "call before ready"); !errors.Is(err, supervisor.ErrBusyWithCaller) {
		t.Fatalf("StartChild before Ready = %v, want ErrBusyWithCaller", err)
	}
	if err := stop(t, sup); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := recv(t, duringStop, "call during stop"); !errors.Is(err, supervisor.ErrStopping) {
		t.Fatalf("StartChild during shutdown = %v, want ErrStopping", err)
	}
}
