package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// gatedReady returns a child that journals "start <id>", reports on started,
// waits for gate, journals "ready <id>", reports ready and runs until
// cancelled.
func gatedReady(id string, j *journal, started chan<- struct{}, gate <-chan struct{}) child.Func {
	return func(ctx context.Context) error {
		j.add("start " + id)
		started <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			j.add("stop " + id)
			return ctx.Err()
		}
		j.add("ready " + id)
		child.Ready(ctx)
		<-ctx.Done()
		j.add("stop " + id)
		return ctx.Err()
	}
}

// neverReady returns a child that journals "start <id>", reports on started,
// never reports ready, and journals "stop <id>" once cancelled.
func neverReady(id string, j *journal, started chan<- struct{}) child.Func {
	return func(ctx context.Context) error {
		j.add("start " + id)
		started <- struct{}{}
		<-ctx.Done()
		j.add("stop " + id)
		return ctx.Err()
	}
}

// a3: children start one at a time in declared order, and an awaited child's
// next sibling starts only once it has reported ready.
func TestStartWaitsForReadyBeforeNextSibling(t *testing.T) {
	j := &journal{}
	aStarted := make(chan struct{}, 1)
	gate, open := newGate(t)
	b, c := newProbe("b", j), newProbe("c", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: gatedReady("a", j, aStarted, gate), AwaitReady: true, StartTimeout: child.Infinity},
		pspec(b), pspec(c),
	}, supervisor.WithHook(rec.Hook()))

	startErr := make(chan error, 1)
	// Ends when Start returns: once a is released below.
	go func() { startErr <- s.Start(testCtx(t)) }()
	t.Cleanup(func() { _ = stop(t, s) })
	recv(t, aStarted, "a to start")

	// The supervisor answers read-only calls while it waits for a: b and c
	// have not been started.
	infos := children(t, s)
	for _, id := range []string{"b", "c"} {
		if st := find(t, infos, id).State; st == supervisor.StateRunning {
			t.Fatalf("child %s is %v while a has not reported ready", id, st)
		}
	}
	if got := j.get(); !slices.Equal(got, []string{"start a"}) {
		t.Fatalf("journal %q before a is ready, want only a started", got)
	}

	open()
	if err := recv(t, startErr, "Start"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	wantJournal(t, j, "start a", "ready a", "start b", "start c")
	waitEvent(t, rec, supervisor.SupervisorReady, "", 1)
	var started []string
	for _, ev := range rec.Events() {
		if ev.Kind == supervisor.ChildStarted {
			started = append(started, ev.Child)
		}
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(started, want) {
		t.Fatalf("child_started events for %v, want %v", started, want)
	}
}

// a3: a child whose spec does not await readiness is started as soon as its
// goroutine is, even if it never calls child.Ready.
func TestStartWithoutAwaitReadyStartsAtOnce(t *testing.T) {
	j := &journal{}
	aStarted := make(chan struct{}, 1)
	b := newProbe("b", j)
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: neverReady("a", j, aStarted)}, // AwaitReady false
		pspec(b),
	}, supervisor.WithClock(newClock()))
	startT(t, s)
	wantStates(t, s, "a=running", "b=running")
}

// a3 (arbor's start deadline): a child that does not report ready within its
// own StartTimeout fails the start: Serve returns a *StartError naming it that
// matches ErrStartFailed and ErrStartTimeout; the children after it never
// start and those before it are stopped.
func TestStartPerChildTimeout(t *testing.T) {
	clock := newClock()
	j := &journal{}
	a, c := newProbe("a", j), newProbe("c", j)
	bStarted := make(chan struct{}, 1)
	s := mustNew(t, "root", []child.Spec{
		pspec(a),
		{ID: "b", Service: neverReady("b", j, bStarted), AwaitReady: true, StartTimeout: 2 * time.Second},
		pspec(c),
	}, supervisor.WithClock(clock))
	v := serveAsync(t, s)
	recv(t, bStarted, "b to start")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil { // b's start timer
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)

	err := v.wait(t)
	var se *supervisor.StartError
	if !errors.As(err, &se) {
		t.Fatalf("Serve returned %v, want a *StartError", err)
	}
	if se.Child != "b" || se.Supervisor != "root" {
		t.Fatalf("StartError names child %q of %q, want b of root", se.Child, se.Supervisor)
	}
	if !errors.Is(err, supervisor.ErrStartFailed) || !errors.Is(err, supervisor.ErrStartTimeout) {
		t.Fatalf("Serve returned %v, want it to match ErrStartFailed and ErrStartTimeout", err)
	}
	// The error says what was missed and what to do.
	if msg := err.Error(); !strings.Contains(msg, "within 2s") || !strings.Contains(msg, "child.Ready(ctx)") {
		t.Errorf("error %q: want the budget and the call to make", msg)
	}
	wantJournal(t, j, "start a", "start b", "stop b", "stop a")
}

// a3 (arbor's start deadline): WithStartTimeout bounds the whole ordered
// start: the time a took counts against b, whose own StartTimeout is longer.
// Start returns the *StartError.
func TestStartGlobalDeadline(t *testing.T) {
	clock := newClock()
	j := &journal{}
	aStarted, bStarted := make(chan struct{}, 1), make(chan struct{}, 1)
	gate, open := newGate(t)
	c := newProbe("c", j)
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: gatedReady("a", j, aStarted, gate), AwaitReady: true}, // default 15 s
		{ID: "b", Service: neverReady("b", j, bStarted), AwaitReady: true, StartTimeout: 10 * time.Second},
		pspec(c),
	}, supervisor.WithClock(clock), supervisor.WithStartTimeout(3*time.Second))

	startErr := make(chan error, 1)
	// Ends when Start returns, once b's start has timed out.
	go func() { startErr <- s.Start(testCtx(t)) }()
	recv(t, aStarted, "a to start")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil { // a's timer, at t0+3s
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second) // a takes 2 of the 3 seconds
	open()
	recv(t, bStarted, "b to start")
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil { // b's (a's was stopped once a was ready)
		t.Fatal(err)
	}
	clock.Advance(time.Second) // the global deadline, well before b's own 10 s

	err := recv(t, startErr, "Start")
	var se *supervisor.StartError
	if !errors.As(err, &se) || se.Child != "b" {
		t.Fatalf("Start returned %v, want a *StartError for b", err)
	}
	if !errors.Is(err, supervisor.ErrStartFailed) || !errors.Is(err, supervisor.ErrStartTimeout) {
		t.Fatalf("Start returned %v, want it to match ErrStartFailed and ErrStartTimeout", err)
	}
	wantJournal(t, j, "start a", "ready a", "start b", "stop b", "stop a")
}

// a3, a14.9: a child that fails before reporting ready (returns an error,
// panics, returns nil, calls runtime.Goexit) fails the start: the children
// after it are never started, those before it are stopped in reverse start
// order, the error names the child and its reason, and the failure is reported
// once.
func TestStartFailureStopsEarlierChildrenInReverse(t *testing.T) {
	cases := []struct {
		name  string
		serve func() error
		check func(t *testing.T, err error)
	}{
		{"error", func() error { return errBoom }, func(t *testing.T, err error) {
			if !errors.Is(err, errBoom) {
				t.Errorf("start error %v does not wrap the child's error", err)
			}
		}},
		{"panic", func() error { panic("kaboom") }, func(t *testing.T, err error) {
			var pe *child.PanicError
			if !errors.As(err, &pe) || pe.Value != "kaboom" {
				t.Errorf("start error %v does not hold the child's *PanicError", err)
			}
		}},
		{"nil before ready", func() error { return nil }, func(t *testing.T, err error) {}},
		{"goexit", func() error { runtime.Goexit(); return nil }, func(t *testing.T, err error) {
			if !errors.Is(err, child.ErrGoexit) {
				t.Errorf("start error %v does not wrap child.ErrGoexit", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			a, b, d := newProbe("a", j), newProbe("b", j), newProbe("d", j)
			c := child.Func(func(ctx context.Context) error {
				j.add("start c")
				return tc.serve()
			})
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{
				pspec(a), pspec(b), {ID: "c", Service: c, AwaitReady: true}, pspec(d),
			}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			err := serveAsync(t, s).wait(t)

			var se *supervisor.StartError
			if !errors.As(err, &se) || se.Child != "c" {
				t.Fatalf("Serve returned %v, want a *StartError for c", err)
			}
			if !errors.Is(err, supervisor.ErrStartFailed) {
				t.Fatalf("Serve returned %v, want it to match ErrStartFailed", err)
			}
			tc.check(t, err)
			wantJournal(t, j, "start a", "start b", "start c", "stop b", "stop a")

			waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
			if n := rec.Count(supervisor.ChildStartFailed, ""); n != 1 {
				t.Errorf("%d child_start_failed events, want 1 (for c)", n)
			}
			if n := rec.Count(supervisor.ChildStarted, "d"); n != 0 {
				t.Errorf("d was started %d times", n)
			}
		})
	}
}

// a3: a child returning child.ErrIgnore before reporting ready declines its
// start: the start succeeds, a permanent child is kept, not running, and a
// temporary one is dropped.
func TestStartIgnore(t *testing.T) {
	j := &journal{}
	a, c := newProbe("a", j), newProbe("c", j)
	ignore := child.Func(func(ctx context.Context) error { return child.ErrIgnore })
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{
		pspec(a),
		{ID: "b", Service: ignore, AwaitReady: true},
		{ID: "tmp", Service: ignore, AwaitReady: true, Restart: child.Temporary},
		pspec(c),
	}, supervisor.WithHook(rec.Hook()))
	startT(t, s)
	wantStates(t, s, "a=running", "b=stopped", "c=running")
	if _, err := s.ChildSpec(testCtx(t), "b"); err != nil {
		t.Errorf("ChildSpec(b): %v, want the kept spec", err)
	}
	if _, err := s.ChildSpec(testCtx(t), "tmp"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("ChildSpec(tmp): %v, want ErrNotFound", err)
	}
	waitEvent(t, rec, supervisor.ChildIgnored, "b", 1)
	waitEvent(t, rec, supervisor.ChildIgnored, "tmp", 1)
	if n := rec.Count(supervisor.ChildStartFailed, ""); n != 0 {
		t.Errorf("%d child_start_failed events, want none", n)
	}
}

// a3: cancelling Start's ctx while a child is starting makes Start return the
// context's error at once; the children already started are then stopped, in
// reverse order, and Wait tells when that is over.
func TestStartContextCancelledDuringStart(t *testing.T) {
	j := &journal{}
	a, c := newProbe("a", j), newProbe("c", j)
	bStarted := make(chan struct{}, 1)
	s := mustNew(t, "root", []child.Spec{
		pspec(a),
		{ID: "b", Service: neverReady("b", j, bStarted), AwaitReady: true, StartTimeout: child.Infinity},
		pspec(c),
	}, supervisor.WithClock(newClock()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startErr := make(chan error, 1)
	// Ends when Start returns, after the cancel below.
	go func() { startErr <- s.Start(ctx) }()
	recv(t, bStarted, "b to start")
	cancel()
	if err := recv(t, startErr, "Start"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start returned %v, want context.Canceled", err)
	}
	if err := waitSup(t, s); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	wantJournal(t, j, "start a", "start b", "stop b", "stop a")
	if _, err := s.Children(testCtx(t)); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Fatalf("Children after the cancelled start: %v, want ErrNotRunning", err)
	}
}
