package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// a8: shutdown stops the children one at a time in reverse start order,
// each confirmed stopped before the next is told to stop.
func TestShutdownStopsInReverseStartOrder(t *testing.T) {
	j := &journal{}
	_, _, _, _, specs := fourProbes(j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", specs, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wantJournal(t, j, "stop d", "stop c", "stop b", "stop a")
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	for _, ev := range rec.Events() {
		if ev.Kind == supervisor.ChildStopped && ev.Err != nil {
			t.Errorf("child_stopped %s: Err %v, want nil for a child that returned ctx.Err()", ev.Child, ev.Err)
		}
	}
}

// a8 (arbor: a child that will not stop): a child that ignores cancellation
// is abandoned at the end of its Shutdown budget: Stop goes on with the next
// child and returns an error matching ErrStopTimeout that names it, and a
// ChildAbandoned event reports it.
func TestShutdownAbandonsChildThatIgnoresCancellation(t *testing.T) {
	clock := newClock()
	j := &journal{}
	a := newProbe("a", j)
	b := newStubborn(t, "b", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{
		pspec(a),
		{ID: "b", Service: b, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 2 * time.Second},
	}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	j.reset()

	stopErr := make(chan error, 1)
	// Ends when Stop returns, once b has been abandoned.
	go func() { stopErr <- s.Stop(context.Background()) }()
	recv(t, b.cancelled, "b to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil { // b's shutdown budget
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	err := recv(t, stopErr, "Stop")

	if !errors.Is(err, supervisor.ErrStopTimeout) {
		t.Fatalf("Stop returned %v, want it to match ErrStopTimeout", err)
	}
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) || st.Child != "b" || st.Budget != 2*time.Second || st.Supervisor != "root" {
		t.Fatalf("Stop returned %v, want a *StopTimeoutError for b of root with a 2s budget", err)
	}
	if b.returned.Load() {
		t.Fatalf("b returned, yet was abandoned")
	}
	wantJournal(t, j, "cancel b", "stop a")
	ev := waitEvent(t, rec, supervisor.ChildAbandoned, "b", 1)
	if !errors.As(ev.Err, &st) {
		t.Errorf("child_abandoned Err = %v, want a *StopTimeoutError", ev.Err)
	}
	if c := ev.Context(); c != "shutdown_error" {
		t.Errorf("child_abandoned context %q, want shutdown_error", c)
	}
	if werr := waitSup(t, s); werr != err {
		t.Errorf("Wait returned %v, want Stop's result %v", werr, err)
	}
	b.free()
}

// a8: an incarnation abandoned by TerminateChild is counted in Children's
// Abandoned until it returns, which an AbandonedReturned event reports.
func TestAbandonedChildIsTrackedUntilItReturns(t *testing.T) {
	clock := newClock()
	a := newProbe("a", nil)
	b := newStubborn(t, "b", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{
		pspec(a),
		{ID: "b", Service: b, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 2 * time.Second},
	}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)

	termErr := make(chan error, 1)
	// Ends when TerminateChild returns, once b has been abandoned.
	go func() { termErr <- s.TerminateChild(testCtx(t), "b") }()
	recv(t, b.cancelled, "b to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	err := recv(t, termErr, "TerminateChild")
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) || st.Child != "b" {
		t.Fatalf("TerminateChild returned %v, want a *StopTimeoutError for b", err)
	}
	waitEvent(t, rec, supervisor.ChildAbandoned, "b", 1)
	infos := wantStates(t, s, "a=running", "b=stopped")
	if n := find(t, infos, "b").Abandoned; n != 1 {
		t.Fatalf("b: Abandoned %d, want 1", n)
	}

	b.free()
	waitEvent(t, rec, supervisor.AbandonedReturned, "b", 1)
	infos = wantStates(t, s, "a=running", "b=stopped")
	if n := find(t, infos, "b").Abandoned; n != 0 {
		t.Fatalf("b: Abandoned %d after it returned, want 0", n)
	}
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// a8 (arbor): once cancelled, a child reads the end of its shutdown budget
// with child.StopDeadline; before that there is none.
func TestStopDeadlineSeenByChild(t *testing.T) {
	clock := newClock()
	type deadline struct {
		at time.Time
		ok bool
	}
	before, after := make(chan deadline, 1), make(chan deadline, 1)
	c := child.Func(func(ctx context.Context) error {
		d, ok := child.StopDeadline(ctx)
		before <- deadline{d, ok}
		<-ctx.Done()
		d, ok = child.StopDeadline(ctx)
		after <- deadline{d, ok}
		return ctx.Err()
	})
	s := mustNew(t, "root", []child.Spec{{ID: "c", Service: c, Shutdown: 3 * time.Second}},
		supervisor.WithClock(clock))
	startT(t, s)
	if d := recv(t, before, "deadline before stop"); d.ok {
		t.Errorf("StopDeadline before the stop = %v, true; want false", d.at)
	}
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	d := recv(t, after, "deadline after cancel")
	if want := t0.Add(3 * time.Second); !d.ok || !d.at.Equal(want) {
		t.Errorf("StopDeadline after cancel = %v, %v; want %v, true", d.at, d.ok, want)
	}
}

// a8 (arbor): a deadline on Stop's ctx bounds the whole shutdown: each child
// gets the smaller of its own budget and the time left, so with two children
// that ignore cancellation and 10 h budgets, a 1 h deadline abandons the first
// after 1 h and the second at once.
func TestStopDeadlineBoundsWholeShutdown(t *testing.T) {
	// Stop's deadline is wall-clock time; the supervisor reads it as the time
	// left on its own clock. It is far enough away that the real context
	// never expires during the test.
	now := time.Now()
	clock := newClock()
	j := &journal{}
	a, b := newStubborn(t, "a", j), newStubborn(t, "b", j)
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: a, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 10 * time.Hour},
		{ID: "b", Service: b, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 10 * time.Hour},
	}, supervisor.WithClock(clock))
	startT(t, s)

	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Hour))
	defer cancel()
	stopErr := make(chan error, 1)
	// Ends when Stop returns, once both children are abandoned.
	go func() { stopErr <- s.Stop(ctx) }()
	recv(t, b.cancelled, "b to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	err := recv(t, stopErr, "Stop")

	budgets := map[string]time.Duration{}
	for _, st := range stopTimeouts(err) {
		budgets[st.Child] = st.Budget
	}
	// b's budget is the hour less what elapsed between Stop's call and now.
	if len(budgets) != 2 || budgets["b"] > time.Hour || budgets["b"] < 59*time.Minute || budgets["a"] != 0 {
		t.Fatalf("Stop returned %v; want b abandoned after about 1h and a at once (budgets %v)", err, budgets)
	}
	recv(t, a.cancelled, "a to be cancelled") // a may see its cancellation after it was abandoned
	wantJournal(t, j, "start a", "start b", "cancel b", "cancel a")
	a.free()
	b.free()
}

// a8 (arbor's Stop): Stop is idempotent: concurrent callers all wait for the
// same shutdown and get the same result, and a later Stop returns it again.
func TestStopIsIdempotent(t *testing.T) {
	clock := newClock()
	b := newStubborn(t, "b", nil)
	s := mustNew(t, "root", []child.Spec{{ID: "b", Service: b, Shutdown: time.Second}},
		supervisor.WithClock(clock))
	startT(t, s)

	const callers = 4
	results := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		// Ends when Stop returns.
		go func() {
			defer wg.Done()
			results <- s.Stop(context.Background())
		}()
	}
	recv(t, b.cancelled, "b to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	wg.Wait()
	close(results)
	var first error
	for err := range results {
		if !errors.Is(err, supervisor.ErrStopTimeout) {
			t.Fatalf("Stop returned %v, want ErrStopTimeout", err)
		}
		if first == nil {
			first = err
		} else if err != first {
			t.Fatalf("concurrent Stop callers got different results: %v and %v", first, err)
		}
	}
	if err := stop(t, s); err != first {
		t.Fatalf("a later Stop returned %v, want the same %v", err, first)
	}
	b.free()
}

// a8, a14.6: nothing restarts during shutdown: a permanent child that crashes
// while a sibling is being stopped is not restarted; if its crash is reported,
// it is as a shutdown_error with its own reason.
func TestNothingRestartsDuringShutdown(t *testing.T) {
	clock := newClock()
	j := &journal{}
	a := newProbe("a", j)
	b := newStubborn(t, "b", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), {ID: "b", Service: b}}, lenient,
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)

	stopErr := make(chan error, 1)
	// Ends when Stop returns, once b is freed below.
	go func() { stopErr <- s.Stop(context.Background()) }()
	recv(t, b.cancelled, "b to be cancelled")
	a.crash(t, errBoom) // a crashes while b is being stopped
	b.free()
	if err := recv(t, stopErr, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if n := a.incarnations(); n != 1 {
		t.Fatalf("a started %d times, want 1: restarted during shutdown", n)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	for _, ev := range rec.Events() {
		if ev.Kind == supervisor.ChildExited && ev.Child == "a" {
			t.Errorf("child_exited for a during shutdown (Restarted %v)", ev.Restarted)
		}
	}
	ev := waitEvent(t, rec, supervisor.ChildStopped, "a", 1)
	if ev.Err != nil && !errors.Is(ev.Err, errBoom) {
		t.Errorf("child_stopped a: Err %v, want nil or its own reason", ev.Err)
	}
	if got := j.get(); !slices.Contains(got, "exit a") || slices.Contains(got, "stop a") {
		t.Errorf("journal %q: want a to have exited by itself, not stopped", got)
	}
}

// a8: Serve returns only after every child has returned (or been abandoned).
func TestServeReturnsOnlyAfterChildrenReturn(t *testing.T) {
	clock := newClock()
	b := newStubborn(t, "b", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "b", Service: b, AwaitReady: true, StartTimeout: child.Infinity}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	v := serveAsync(t, s)
	waitEvent(t, rec, supervisor.SupervisorReady, "", 1)
	v.cancel()
	recv(t, b.cancelled, "b to be cancelled")
	// The supervisor answers while it waits, and says it waits on b: Serve
	// has not returned (its clock never moves, so b's budget never runs out).
	info, err := s.Info(testCtx(t))
	if err != nil || !info.Stopping || find(t, info.Children, "b").State != supervisor.StateStopping {
		t.Fatalf("Info while b ignores its cancellation = %+v, %v; want the supervisor waiting on b", info, err)
	}
	if v.returned() {
		t.Fatal("Serve returned while its child was still running within its budget")
	}
	b.free()
	if err := v.wait(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if got := kinds(after(rec.Events(), supervisor.SupervisorReady)); !slices.Equal(got, []string{"child_stopped b", "supervisor_stopped"}) {
		t.Fatalf("events %v, want b's stop before the supervisor's", got)
	}
}

// a8: a child that returns an error after being cancelled has stopped cleanly
// (the supervisor cancelled it); Stop returns nil and no report is made.
func TestChildErrorAfterCancelIsCleanStop(t *testing.T) {
	c := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("interrupted: " + ctx.Err().Error())
	})
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "c", Service: c}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	ev := waitEvent(t, rec, supervisor.ChildStopped, "c", 1)
	if ev.Err != nil || ev.Context() != "" {
		t.Errorf("child_stopped: Err %v, context %q; want a clean stop", ev.Err, ev.Context())
	}
	if got := kinds(after(rec.Events(), supervisor.SupervisorReady)); !slices.Equal(got, []string{"child_stopped c", "supervisor_stopped"}) {
		t.Errorf("events after ready %q", got)
	}
}

// a8, a12: a child that panics while being stopped is reported as a
// shutdown_error carrying the panic; the shutdown goes on.
func TestPanicWhileStoppingIsReported(t *testing.T) {
	j := &journal{}
	a := newProbe("a", j)
	c := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		explode("while stopping")
		return nil
	})
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), {ID: "c", Service: c}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	ev := waitEvent(t, rec, supervisor.ChildStopped, "c", 1)
	var pe *child.PanicError
	if !errors.As(ev.Err, &pe) || pe.Value != "while stopping" {
		t.Fatalf("child_stopped c: Err %v, want the *child.PanicError", ev.Err)
	}
	if ctx := ev.Context(); ctx != "shutdown_error" {
		t.Errorf("child_stopped c: context %q, want shutdown_error", ctx)
	}
	wantJournal(t, j, "stop a")
}
