package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// Tests of the shutdown contract: once a stop is asked for, it wins at every
// point of the loop, within the deadline the caller gave.

// slowStopper is a child that, once cancelled, reports on stopping and
// returns only when the test opens its gate.
type slowStopper struct {
	id       string
	j        *journal
	stopping chan struct{}
	gate     chan struct{}
	open     func()
}

func newSlowStopper(t *testing.T, id string, j *journal) *slowStopper {
	gate, open := newGate(t)
	return &slowStopper{id: id, j: j, stopping: make(chan struct{}, 16), gate: gate, open: open}
}

func (s *slowStopper) Serve(ctx context.Context) error {
	s.j.add("start " + s.id)
	child.Ready(ctx)
	<-ctx.Done()
	s.stopping <- struct{}{}
	<-s.gate
	s.j.add("stop " + s.id)
	return nil
}

func (s *slowStopper) spec() child.Spec {
	return child.Spec{ID: s.id, Service: s, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: child.Infinity}
}

// waitStopRequested waits until s says a stop has been asked for. Info is
// answered even while the supervisor waits on a child.
func waitStopRequested(t *testing.T, s sup) {
	t.Helper()
	for end := time.Now().Add(testTimeout); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if info, err := s.Info(testCtx(t)); err == nil && info.Stopping {
			return
		}
	}
	t.Fatalf("%s never reported a stop request", s.Name())
}

// waitGone waits until no goroutine labelled path (or below it) is left: a
// child's goroutine sends its exit to the supervisor before it ends, so the
// exit is then queued, whatever the supervisor is doing.
func waitGone(t *testing.T, path string) {
	t.Helper()
	for end := time.Now().Add(testTimeout); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if supervisor.GoroutineStacks(path) == "" {
			return
		}
	}
	t.Fatalf("goroutines of %s still running", path)
}

// stopAsync calls Stop with ctx on a goroutine of its own.
func stopAsync(ctx context.Context, s sup) <-chan error {
	c := make(chan error, 1)
	// Ends when Stop returns.
	go func() { c <- s.Stop(ctx) }()
	return c
}

// Item 1: a nested supervisor that overran its budget and was abandoned is
// restarted by a group restart: the new run begins while the abandoned one
// finishes, instead of failing with ErrAlreadyServing until the parent gives
// up.
func TestAbandonedNestedSupervisorIsRestartedByGroupRestart(t *testing.T) {
	root, nested, stuck, w, rec, clock := abandonedNestedTree(t, strategy.OneForAll)
	w.crash(t, errBoom)
	recv(t, stuck.cancelled, "the nested child to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * time.Millisecond) // the nested supervisor's budget
	waitEvent(t, rec, supervisor.ChildAbandoned, "n", 1)
	waitEvent(t, rec, supervisor.ChildStarted, "n", 2)
	waitEvent(t, rec, supervisor.ChildStarted, "w", 2)
	if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
		t.Fatalf("root gave up: %v", kinds(rec.Events()))
	}
	info, err := nested.Info(testCtx(t))
	if err != nil || !info.Ready {
		t.Fatalf("new run of the nested supervisor: Info = %+v, %v", info, err)
	}
	wantStates(t, root, "n=running", "w=running")
	stuck.free()
	waitEvent(t, rec, supervisor.AbandonedReturned, "n", 1)
}

// Item 1: RestartChild of a nested supervisor abandoned by TerminateChild
// starts a new run.
func TestRestartChildOfAbandonedNestedSupervisor(t *testing.T) {
	root, nested, stuck, _, rec, clock := abandonedNestedTree(t, strategy.OneForOne)
	terminated := make(chan error, 1)
	// Ends when TerminateChild returns, once the clock is advanced below.
	go func() { terminated <- root.TerminateChild(testCtx(t), "n") }()
	recv(t, stuck.cancelled, "the nested child to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * time.Millisecond)
	if err := recv(t, terminated, "TerminateChild"); !errors.Is(err, supervisor.ErrStopTimeout) {
		t.Fatalf("TerminateChild = %v, want the abandonment", err)
	}
	if err := root.RestartChild(testCtx(t), "n"); err != nil {
		t.Fatalf("RestartChild of the abandoned nested supervisor = %v", err)
	}
	if info, err := nested.Info(testCtx(t)); err != nil || !info.Ready {
		t.Fatalf("new run: Info = %+v, %v", info, err)
	}
	stuck.free()
	waitEvent(t, rec, supervisor.AbandonedReturned, "n", 1)
}

// abandonedNestedTree builds root (strategy st, fake clock) over a nested
// supervisor n (budget 100 ms) and a probe w. n runs a stubborn child with
// an unbounded budget on a clock of its own that never moves, so once n is
// cancelled it waits for its child for ever, and its parent must abandon it.
func abandonedNestedTree(t *testing.T, st strategy.Strategy) (root, nested *supervisor.Supervisor, stuck *stubborn, w *probe, rec *supervisortest.Recorder, clock *supervisortest.Clock) {
	t.Helper()
	stuck = newStubborn(t, "s", nil)
	nested = mustNew(t, "n", []child.Spec{{ID: "s", Service: stuck, AwaitReady: true, Shutdown: child.Infinity}},
		supervisor.WithClock(newClock()))
	w = newProbe("w", nil)
	rec = supervisortest.NewRecorder()
	clock = newClock()
	root = mustNew(t, "root", []child.Spec{
		{ID: "n", Service: nested, Kind: child.KindSupervisor, Shutdown: 100 * time.Millisecond},
		pspec(w),
	}, supervisor.WithStrategy(st), supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()))
	startT(t, root)
	t.Cleanup(stuck.free) // before the root's Stop, which stops the new run's child
	return root, nested, stuck, w, rec, clock
}

// Item 1: a restart whose start fails while the child's abandoned
// incarnation still runs (it holds what the new one needs) waits for that
// incarnation to return instead of retrying at once and spending the
// restart intensity in a burst.
func TestRetryWaitsForAbandonedIncarnation(t *testing.T) {
	var held atomic.Bool
	cancelled := make(chan struct{}, 4)
	release, free := newGate(t)
	errInUse := errors.New("in use")
	x := child.Func(func(ctx context.Context) error {
		if !held.CompareAndSwap(false, true) {
			return errInUse // before Ready: a failed start
		}
		child.Ready(ctx)
		<-ctx.Done()
		cancelled <- struct{}{}
		<-release
		held.Store(false)
		return nil
	})
	w := newProbe("w", nil)
	rec := supervisortest.NewRecorder()
	clock := newClock()
	root := mustNew(t, "root", []child.Spec{
		{ID: "x", Service: x, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 100 * time.Millisecond},
		pspec(w),
	}, supervisor.WithStrategy(strategy.OneForAll), supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}))
	startT(t, root)
	w.crash(t, errBoom)
	recv(t, cancelled, "x to be cancelled")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * time.Millisecond)
	waitEvent(t, rec, supervisor.ChildStartFailed, "x", 1)
	infos := wantStates(t, root, "x=restarting", "w=stopped")
	if a := find(t, infos, "x").Abandoned; a != 1 {
		t.Fatalf("x Abandoned = %d, want 1", a)
	}
	free()
	waitEvent(t, rec, supervisor.AbandonedReturned, "x", 1)
	waitEvent(t, rec, supervisor.ChildStarted, "w", 2)
	if n := rec.Count(supervisor.ChildStartFailed, "x"); n != 1 {
		t.Errorf("x failed to start %d times, want once: %v", n, kinds(rec.Events()))
	}
	if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
		t.Errorf("root gave up: %v", kinds(rec.Events()))
	}
	wantStates(t, root, "x=running", "w=running")
}

// Item 2: a shutdown step that abandons many children takes one goroutine
// profile, not one per child.
func TestAbandonmentProfilesOncePerStep(t *testing.T) {
	count, restore := supervisor.CountProfiles()
	defer restore()
	const n = 30
	release, free := newGate(t)
	stuck := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		<-ctx.Done()
		<-release
		return nil
	})
	var specs []child.Spec
	for i := range n {
		specs = append(specs, child.Spec{ID: "c" + string(rune('a'+i)), Service: stuck, AwaitReady: true, Shutdown: time.Hour})
	}
	clock := newClock()
	s := mustNew(t, "root", specs, supervisor.WithClock(clock))
	startT(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // on the fake clock: advanced below
	defer cancel()
	stopped := stopAsync(ctx, s)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	err := recv(t, stopped, "Stop")
	free()
	if got := len(stopTimeouts(err)); got != n {
		t.Fatalf("Stop reported %d abandoned children, want %d: %v", got, n, err)
	}
	if p := count(); p > 2 {
		t.Fatalf("%d goroutine profiles for one shutdown, want at most 2 (the child the deadline cut, then the rest in one step)", p)
	}
	for _, st := range stopTimeouts(err) {
		if !st.Deadline || st.Stacks == "" {
			t.Fatalf("abandonment %v: Deadline %v, stacks %q; want the deadline and the child's stacks", st, st.Deadline, st.Stacks)
		}
	}
}

// Item 2: a simple_one_for_one shutdown that abandons every instance takes
// one goroutine profile.
func TestSimpleAbandonmentProfilesOnce(t *testing.T) {
	count, restore := supervisor.CountProfiles()
	defer restore()
	release, free := newGate(t)
	clock := newClock()
	p := newSimple(t, child.Spec{ID: "w", Shutdown: time.Second}, func(ctx context.Context, _ string) error {
		<-ctx.Done()
		<-release
		return nil
	}, supervisor.WithClock(clock))
	for range 20 {
		if _, err := p.StartChild(testCtx(t), "x"); err != nil {
			t.Fatal(err)
		}
	}
	stopped := stopAsync(context.Background(), p)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err := recv(t, stopped, "Stop")
	free()
	if got := len(stopTimeouts(err)); got != 20 {
		t.Fatalf("Stop reported %d abandoned instances, want 20", got)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d goroutine profiles, want 1", n)
	}
}

// Item 3: a Stop that arrives while a one_for_all restart is stopping the
// siblings ends the restart: nothing is started again.
func TestStopDuringGroupRestartStartsNothing(t *testing.T) {
	j := &journal{}
	a := newSlowStopper(t, "a", j)
	b := newProbe("b", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{a.spec(), pspec(b)},
		supervisor.WithStrategy(strategy.OneForAll), supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	b.crash(t, errBoom)
	recv(t, a.stopping, "a to be stopped by the group restart")
	stopped := stopAsync(context.Background(), s)
	waitStopRequested(t, s)
	a.open()
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if got := kinds(after(rec.Events(), supervisor.ChildExited)); !slices.Equal(got, []string{"child_stopped a", "supervisor_stopped"}) {
		t.Fatalf("events after b's exit %v, want a stopped and nothing started", got)
	}
	if b.incarnations() != 1 || j.get()[len(j.get())-1] != "stop a" {
		t.Fatalf("journal %q: something started after the stop", j.get())
	}
}

// Item 3: a call that changes the supervisor, made once a stop is asked for
// while the supervisor is busy stopping a child, gets ErrStopping at once
// and starts nothing.
func TestMutatingCallDuringStopGetsErrStopping(t *testing.T) {
	j := &journal{}
	a := newSlowStopper(t, "a", j)
	c := newProbe("c", j)
	s := mustNew(t, "root", []child.Spec{a.spec(), pspec(c)}, supervisor.WithClock(newClock()))
	startT(t, s)
	if err := s.TerminateChild(testCtx(t), "c"); err != nil {
		t.Fatal(err)
	}
	terminated := make(chan error, 1)
	// Ends when TerminateChild returns, once a's gate opens.
	go func() { terminated <- s.TerminateChild(testCtx(t), "a") }()
	recv(t, a.stopping, "a to be stopped")
	stopped := stopAsync(context.Background(), s)
	waitStopRequested(t, s)
	x := newProbe("x", j)
	if err := s.StartChild(testCtx(t), pspec(x)); !errors.Is(err, supervisor.ErrStopping) {
		t.Errorf("StartChild during the stop = %v, want ErrStopping", err)
	}
	if err := s.RestartChild(testCtx(t), "c"); !errors.Is(err, supervisor.ErrStopping) {
		t.Errorf("RestartChild during the stop = %v, want ErrStopping", err)
	}
	a.open()
	if err := recv(t, terminated, "TerminateChild"); err != nil {
		t.Errorf("TerminateChild = %v", err)
	}
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if x.incarnations() != 0 || c.incarnations() != 1 {
		t.Fatalf("journal %q: a child started after the stop", j.get())
	}
}

// Item 3: Serve with a context already done starts nothing.
func TestServeWithDoneContextStartsNothing(t *testing.T) {
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: a}, // not awaited: counts as started when launched
		pspec(b),
	}, supervisor.WithClock(newClock()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Serve(ctx); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if got := j.get(); len(got) != 0 {
		t.Fatalf("journal %q, want nothing started", got)
	}
}

// Item 3: a stop asked for while a child is starting launches no later
// child, even when the child being started reports ready after the request.
func TestStopDuringInitialStartLaunchesNoLaterChild(t *testing.T) {
	for range 10 { // the supervisor sees the ready and the stop at once: either order must hold
		j := &journal{}
		a := newProbe("a", j)
		gate, open := newGate(t)
		a.onStart = func(ctx context.Context, _ int) error { <-gate; return nil }
		launched := make(chan struct{}, 1)
		b := child.Func(func(ctx context.Context) error { launched <- struct{}{}; <-ctx.Done(); return nil })
		s := mustNew(t, "root", []child.Spec{pspec(a), {ID: "b", Service: b}}, supervisor.WithClock(newClock()))
		v := serveAsync(t, s)
		a.waitStart(t, 1)
		stopped := stopAsync(context.Background(), s)
		waitStopRequested(t, s)
		open()
		if err := recv(t, stopped, "Stop"); err != nil {
			t.Fatalf("Stop = %v", err)
		}
		if err := v.wait(t); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		select {
		case <-launched:
			t.Fatal("b was launched after the stop was asked for")
		default:
		}
	}
}

// Item 4: Stop's deadline bounds a stop that was under way before Stop was
// called, even one with an unbounded budget; the child is abandoned when the
// deadline passes and both callers learn it.
func TestStopDeadlineBoundsStopUnderWay(t *testing.T) {
	a := newStubborn(t, "a", nil)
	clock := newClock()
	s := mustNew(t, "root", []child.Spec{{ID: "a", Service: a, AwaitReady: true, Shutdown: child.Infinity}},
		supervisor.WithClock(clock))
	startT(t, s)
	terminated := make(chan error, 1)
	// Ends when TerminateChild returns: when Stop's deadline passes.
	go func() { terminated <- s.TerminateChild(testCtx(t), "a") }()
	recv(t, a.cancelled, "a to be cancelled")
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // read on the fake clock
	defer cancel()
	stopped := stopAsync(ctx, s)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatalf("no deadline on the stop under way: %v", err)
	}
	clock.Advance(time.Hour)
	err := recv(t, terminated, "TerminateChild")
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) || st.Child != "a" || !st.Deadline {
		t.Fatalf("TerminateChild = %v, want a's abandonment at Stop's deadline", err)
	}
	err = recv(t, stopped, "Stop")
	if sts := stopTimeouts(err); len(sts) != 1 || sts[0].Child != "a" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want a's abandonment, matching context.DeadlineExceeded", err)
	}
}

// Item 4: the same for the stop of a sibling in a group restart.
func TestStopDeadlineBoundsGroupRestartStop(t *testing.T) {
	a := newStubborn(t, "a", nil)
	b := newProbe("b", nil)
	clock := newClock()
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "a", Service: a, AwaitReady: true, Shutdown: child.Infinity}, pspec(b)},
		supervisor.WithStrategy(strategy.OneForAll), supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	b.crash(t, errBoom)
	recv(t, a.cancelled, "a to be cancelled")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := stopAsync(ctx, s)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatalf("no deadline on the group restart's stop: %v", err)
	}
	clock.Advance(time.Minute)
	err := recv(t, stopped, "Stop")
	if sts := stopTimeouts(err); len(sts) != 1 || sts[0].Child != "a" {
		t.Fatalf("Stop = %v, want a's abandonment", err)
	}
	if n := rec.Count(supervisor.ChildStarted, ""); n != 2 {
		t.Fatalf("%d starts, want only the initial 2: %v", n, kinds(rec.Events()))
	}
}

// Item 5: when Stop's own deadline cuts a child, Stop returns the
// abandonment, as Serve does, matching both the stop timeout and
// context.DeadlineExceeded.
func TestStopReturnsAbandonmentAtItsDeadline(t *testing.T) {
	a := newStubborn(t, "a", nil)
	s := mustNew(t, "root", []child.Spec{{ID: "a", Service: a, AwaitReady: true, Shutdown: time.Hour}})
	startT(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Stop(ctx)
	if !errors.Is(err, supervisor.ErrStopTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the abandonment, matching ErrStopTimeout and context.DeadlineExceeded", err)
	}
	if sts := stopTimeouts(err); len(sts) != 1 || sts[0].Child != "a" || !sts[0].Deadline {
		t.Fatalf("Stop = %v, want a named as cut by the deadline", err)
	}
	if werr := waitSup(t, s); werr == nil || werr.Error() != err.Error() {
		t.Fatalf("Wait = %v, Stop = %v: want the same result", werr, err)
	}
}

// Item 6, and exits noted while the loop waits: an exit that arrived while
// the supervisor waited on another child's start, handled after a stop was
// asked for, is reported as not restarted, and nothing restarts (with
// MaxRestarts 0 a restart would even make the supervisor give up).
func TestExitAfterStopRequestedIsNotRestarted(t *testing.T) {
	a, b := newProbe("a", nil), newProbe("b", nil)
	gate, open := newGate(t)
	b.onStart = func(ctx context.Context, n int) error {
		if n == 2 {
			<-gate
		}
		return nil
	}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)}, supervisor.WithClock(newClock()),
		supervisor.WithHook(rec.Hook()), supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Second}))
	startT(t, s)
	if err := s.TerminateChild(testCtx(t), "b"); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	// Ends when RestartChild returns, once the stop interrupts b's start.
	go func() { restarted <- s.RestartChild(testCtx(t), "b") }()
	b.waitStart(t, 2) // the supervisor now waits for b's ready
	a.crash(t, errBoom)
	waitGone(t, "root/a")
	stopped := stopAsync(context.Background(), s)
	waitStopRequested(t, s)
	open()
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop = %v, want nil: nothing may restart (or give up) after the stop", err)
	}
	<-restarted
	ev := waitEvent(t, rec, supervisor.ChildExited, "a", 1)
	if ev.Restarted || ev.Context() == "" {
		t.Fatalf("a's exit: Restarted %v, context %q; want reported, not restarted", ev.Restarted, ev.Context())
	}
	if a.incarnations() != 1 {
		t.Fatalf("a started %d times", a.incarnations())
	}
}

// Item 7: while a rest_for_one restart of x waits (here for its backoff),
// only x is restarting; the siblings after it are stopped, and terminating x
// drops the whole pending restart.
func TestPendingGroupRestartBelongsToItsChild(t *testing.T) {
	a, x, c := newProbe("a", nil), newProbe("x", nil), newProbe("c", nil)
	clock := newClock()
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(x), pspec(c)}, supervisor.WithClock(clock),
		supervisor.WithStrategy(strategy.RestForOne), supervisor.WithHook(rec.Hook()),
		supervisor.WithBackoff(func() supervisor.BackOff { return backoff.NewConstantBackOff(time.Second) }))
	startT(t, s)
	x.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "x", 1)
	wantStates(t, s, "a=running", "x=restarting", "c=stopped")
	if err := s.DeleteChild(testCtx(t), "c"); err != nil {
		t.Fatalf("DeleteChild of a stopped sibling = %v", err)
	}
	if err := s.StartChild(testCtx(t), pspec(c)); err != nil {
		t.Fatal(err)
	}
	if err := s.TerminateChild(testCtx(t), "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.TerminateChild(testCtx(t), "x"); err != nil {
		t.Fatal(err)
	}
	wantStates(t, s, "a=running", "x=stopped", "c=stopped")
	clock.Advance(time.Second)
	settle(t, s)
	wantStates(t, s, "a=running", "x=stopped", "c=stopped")
}

// Item 7: during a group restart, siblings already stopped show Restarting.
func TestGroupRestartShowsStoppedSiblingsRestarting(t *testing.T) {
	j := &journal{}
	x, d := newProbe("x", j), newProbe("d", j)
	c := newSlowStopper(t, "c", j)
	s := mustNew(t, "root", []child.Spec{pspec(x), c.spec(), pspec(d)}, supervisor.WithClock(newClock()),
		supervisor.WithStrategy(strategy.RestForOne))
	startT(t, s)
	x.crash(t, errBoom)
	recv(t, c.stopping, "c to be stopped")
	wantStates(t, s, "x=restarting", "c=stopping", "d=restarting")
	c.open()
	d.waitStart(t, 2)
	settle(t, s)
	wantStates(t, s, "x=running", "c=running", "d=running")
}
