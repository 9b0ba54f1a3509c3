package handshake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/examples/handshake"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds each wait that would hang if the code were wrong; a
// passing test never reaches it, so it says nothing about speed.
const testTimeout = 30 * time.Second

const (
	startBudget = 5 * time.Second
	stopBudget  = 2 * time.Second
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// tree is a supervisor with the cache as its one child, on a fake clock,
// with a recorder of its events.
type tree struct {
	sup   *supervisor.Supervisor
	clock *supervisortest.Clock
	rec   *supervisortest.Recorder
}

func newTree(t *testing.T, c *handshake.Cache) tree {
	t.Helper()
	tr := tree{clock: supervisortest.NewClock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)), rec: supervisortest.NewRecorder()}
	var err error
	tr.sup, err = supervisor.New("app", []child.Spec{
		{ID: "cache", Service: c, AwaitReady: true, StartTimeout: startBudget, Shutdown: stopBudget},
	}, supervisor.WithClock(tr.clock), supervisor.WithHook(tr.rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// async runs f on a goroutine and returns a channel with its result. The
// goroutine ends when f returns; each test makes sure it does.
func async(f func() error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- f() }()
	return c
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("%s: nothing after %v", what, testTimeout)
		panic("unreachable")
	}
}

func pending[T any](t *testing.T, c <-chan T, what string) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("%s already happened (%v)", what, v)
	default:
	}
}

// fakeDeadline gives Flush a context without a real timer: on a fake clock
// the stop deadline is a fake time. It reports the deadline it was given.
func fakeDeadline(got chan<- time.Time) func(context.Context, time.Time) (context.Context, context.CancelFunc) {
	return func(ctx context.Context, d time.Time) (context.Context, context.CancelFunc) {
		got <- d
		return context.WithCancel(ctx)
	}
}

func noFlush(context.Context) error { return nil }

// ---- The start handshake ----

// Success: Start returns only once the cache has loaded and reported ready.
func TestStartWaitsForTheLoad(t *testing.T) {
	loading, loaded := make(chan struct{}), make(chan struct{})
	tr := newTree(t, &handshake.Cache{
		Load:  func(context.Context) error { close(loading); <-loaded; return nil },
		Flush: noFlush,
	})
	ctx := testCtx(t)
	started := async(func() error { return tr.sup.Start(ctx) })
	recv(t, loading, "the load")
	pending(t, started, "Start's return")
	pending(t, tr.sup.Ready(), "readiness")
	close(loaded)
	if err := recv(t, started, "Start's return"); err != nil {
		t.Fatalf("Start = %v; want nil", err)
	}
	if _, err := tr.rec.WaitFor(ctx, supervisor.ChildStarted, "cache"); err != nil {
		t.Fatal(err)
	}
	if err := tr.sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
}

// Cancellation: the caller of Start gives up; the load sees its context end
// and the tree winds down with nothing left running.
func TestStartCancelledDuringTheLoad(t *testing.T) {
	loading, sawCancel := make(chan struct{}), make(chan struct{})
	tr := newTree(t, &handshake.Cache{
		Load: func(ctx context.Context) error {
			close(loading)
			<-ctx.Done()
			close(sawCancel)
			return ctx.Err()
		},
		Flush: noFlush,
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	started := async(func() error { return tr.sup.Start(ctx) })
	recv(t, loading, "the load")
	cancel()
	if err := recv(t, started, "Start's return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v; want context.Canceled", err)
	}
	recv(t, sawCancel, "the load's cancellation")
	recv(t, async(func() error { return tr.sup.Wait() }), "the end of Serve")
}

// Timeout: a load that never ends fails the start when the start budget
// runs out on the fake clock, with an error that names the child.
func TestStartTimesOut(t *testing.T) {
	tr := newTree(t, &handshake.Cache{
		Load:  func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		Flush: noFlush,
	})
	ctx := testCtx(t)
	started := async(func() error { return tr.sup.Start(ctx) })
	// The start timer is armed: only now does advancing the clock mean
	// anything. No sleep, however loaded the machine.
	if err := tr.clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pending(t, started, "Start's return")
	tr.clock.Advance(startBudget)
	err := recv(t, started, "Start's return")
	var se *supervisor.StartError
	if !errors.As(err, &se) || se.Child != "cache" || !errors.Is(err, supervisor.ErrStartTimeout) {
		t.Fatalf("Start = %v; want a *StartError for cache matching ErrStartTimeout", err)
	}
	// The missed handshake is reported with what to do about it.
	if !strings.Contains(err.Error(), "child.Ready") {
		t.Errorf("error %q does not name the call to make", err)
	}
}

// ---- The stop handshake ----

// Success: the flush runs after the stop request with the child's stop
// deadline, and the stop is clean.
func TestStopFlushesWithinTheDeadline(t *testing.T) {
	flushed, deadline := make(chan struct{}), make(chan time.Time, 1)
	tr := newTree(t, &handshake.Cache{
		Load:     func(context.Context) error { return nil },
		Flush:    func(context.Context) error { close(flushed); return nil },
		Deadline: fakeDeadline(deadline),
	})
	ctx := testCtx(t)
	if err := tr.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopAt := tr.clock.Now()
	if err := tr.sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
	recv(t, flushed, "the flush")
	if d := recv(t, deadline, "the deadline"); !d.Equal(stopAt.Add(stopBudget)) {
		t.Fatalf("flush deadline %v; want the stop plus the budget, %v", d, stopAt.Add(stopBudget))
	}
	if _, err := tr.rec.WaitFor(ctx, supervisor.ChildStopped, "cache"); err != nil {
		t.Fatal(err)
	}
}

// Cancellation: the caller of Stop gives up. The shutdown goes on without
// it, and Wait returns its result.
func TestStopCallerGivesUp(t *testing.T) {
	flushing, release := make(chan struct{}), make(chan struct{})
	tr := newTree(t, &handshake.Cache{
		Load:     func(context.Context) error { return nil },
		Flush:    func(context.Context) error { close(flushing); <-release; return nil },
		Deadline: fakeDeadline(make(chan time.Time, 1)),
	})
	ctx := testCtx(t)
	if err := tr.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithCancel(ctx)
	stopped := async(func() error { return tr.sup.Stop(stopCtx) })
	recv(t, flushing, "the flush")
	cancel()
	if err := recv(t, stopped, "Stop's return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v; want context.Canceled", err)
	}
	pending(t, tr.sup.Done(), "the end of Serve")
	close(release)
	if err := recv(t, async(tr.sup.Wait), "the end of Serve"); err != nil {
		t.Fatalf("Wait = %v; want nil", err)
	}
}

// Timeout: a flush that overruns the budget is abandoned and reported.
func TestStopAbandonsAnOverrunningFlush(t *testing.T) {
	flushing, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	tr := newTree(t, &handshake.Cache{
		Load: func(context.Context) error { return nil },
		Flush: func(context.Context) error {
			defer close(returned)
			close(flushing)
			<-release
			return nil
		},
		Deadline: fakeDeadline(make(chan time.Time, 1)),
	})
	ctx := testCtx(t)
	if err := tr.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := async(func() error { return tr.sup.Stop(ctx) })
	recv(t, flushing, "the flush")
	if err := tr.clock.WaitForWaiters(ctx, 1); err != nil { // the stop budget's timer
		t.Fatal(err)
	}
	tr.clock.Advance(stopBudget)
	err := recv(t, stopped, "Stop's return")
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) || st.Child != "cache" || st.Budget != stopBudget {
		t.Fatalf("Stop = %v; want a *StopTimeoutError for cache, budget %v", err, stopBudget)
	}
	if _, err := tr.rec.WaitFor(ctx, supervisor.ChildAbandoned, "cache"); err != nil {
		t.Fatal(err)
	}
	// Go cannot kill the goroutine: it is the test's to end, or goleak fails.
	// (Serve has returned, so no supervisor is left to report its return.)
	close(release)
	recv(t, returned, "the abandoned flush's return")
}

// ---- Deadlock classes ----

// Cyclic wait: the supervisor waits for the cache's readiness; a call from
// the cache that would make the supervisor do something waits for the
// supervisor. Arbor refuses it at once instead of deadlocking.
func TestCallFromTheAwaitedChildIsRefused(t *testing.T) {
	var tr tree
	tr = newTree(t, &handshake.Cache{
		Load: func(ctx context.Context) error {
			err := tr.sup.StartChild(ctx, child.Spec{ID: "more", Service: child.Func(func(ctx context.Context) error { <-ctx.Done(); return nil })})
			if !errors.Is(err, supervisor.ErrBusyWithCaller) {
				return errors.Join(errors.New("want ErrBusyWithCaller"), err)
			}
			return nil
		},
		Flush: noFlush,
	})
	ctx := testCtx(t)
	if err := tr.sup.Start(ctx); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if err := tr.sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

// Unbuffered reply after a timeout: a caller gives up while the supervisor
// is doing what it asked. The supervisor's reply goes to a buffered channel
// that no one reads, and the supervisor goes on answering.
func TestCallerThatGaveUpDoesNotWedgeTheSupervisor(t *testing.T) {
	flushing, release := make(chan struct{}), make(chan struct{})
	tr := newTree(t, &handshake.Cache{
		Load:     func(context.Context) error { return nil },
		Flush:    func(context.Context) error { close(flushing); <-release; return nil },
		Deadline: fakeDeadline(make(chan time.Time, 1)),
	})
	ctx := testCtx(t)
	if err := tr.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithCancel(ctx)
	terminated := async(func() error { return tr.sup.TerminateChild(callCtx, "cache") })
	recv(t, flushing, "the flush") // the supervisor took the call
	cancel()
	if err := recv(t, terminated, "TerminateChild's return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("TerminateChild = %v; want context.Canceled", err)
	}
	close(release) // the supervisor now replies to a caller that has left
	if _, err := tr.rec.WaitFor(ctx, supervisor.ChildStopped, "cache"); err != nil {
		t.Fatal(err)
	}
	infos, err := tr.sup.Children(ctx)
	if err != nil || len(infos) != 1 || infos[0].State != supervisor.StateStopped {
		t.Fatalf("Children = %+v, %v; want cache stopped", infos, err)
	}
	if err := tr.sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}
