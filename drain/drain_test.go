package drain_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/drain"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds every wait of a test that would otherwise hang; it is
// never reached when the test passes.
const testTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// log is a concurrency-safe list of items.
type log struct {
	mu    sync.Mutex
	items []int
}

func (l *log) add(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, i)
}

func (l *log) get() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.items...)
}

// fixture runs pool as the only child of a supervisor, started, with a
// recorder of its events; the supervisor is stopped at the end of the test
// if the test did not stop it.
func fixture(t *testing.T, pool *drain.Pool[int], shutdown time.Duration) (*supervisor.Supervisor, *supervisortest.Recorder) {
	t.Helper()
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("app", []child.Spec{
		{ID: "workers", Service: pool, AwaitReady: true, Shutdown: shutdown},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop(context.Background()) })
	return sup, rec
}

// draining wraps a Deadline function so that the test learns when the drain
// has begun (the queue is closed by then).
func draining(deadline func(context.Context) (time.Time, bool)) (func(context.Context) (time.Time, bool), <-chan struct{}) {
	began := make(chan struct{})
	return func(ctx context.Context) (time.Time, bool) {
		close(began)
		return deadline(ctx)
	}, began
}

func wait[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("%s did not happen", what)
		panic("unreachable")
	}
}

func TestPushWhileNotServingIsRefused(t *testing.T) {
	pool := &drain.Pool[int]{Work: func(context.Context, int) {}}
	if err := pool.Push(testCtx(t), 1); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("Push before Serve = %v; want ErrClosed", err)
	}
	if err := pool.TryPush(1); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("TryPush before Serve = %v; want ErrClosed", err)
	}
	sup, _ := fixture(t, pool, time.Minute)
	if err := pool.TryPush(1); err != nil {
		t.Fatalf("TryPush while serving = %v; want nil", err)
	}
	if err := sup.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
	if err := pool.Push(testCtx(t), 2); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("Push after the stop = %v; want ErrClosed", err)
	}
}

// What was queued before the stop is worked on, in order, when the budget
// allows; a push once the drain has begun gets ErrClosed.
func TestDrainWorksOffQueuedItems(t *testing.T) {
	var (
		done    log
		gate    = make(chan struct{})
		started = make(chan int, 1)
	)
	deadline, began := draining(child.StopDeadline)
	pool := &drain.Pool[int]{
		Workers:  1,
		Capacity: 8,
		Deadline: deadline,
		Work: func(ctx context.Context, i int) {
			if i == 1 {
				started <- i
				<-gate // the item in hand when the stop comes
			}
			done.add(i)
		},
		Dropped: func(i int) { t.Errorf("item %d dropped", i) },
	}
	sup, rec := fixture(t, pool, time.Minute)
	ctx := testCtx(t)
	for i := 1; i <= 6; i++ {
		if err := pool.Push(ctx, i); err != nil {
			t.Fatalf("Push(%d) = %v", i, err)
		}
		if i == 1 {
			wait(t, started, "the first item's start")
		}
	}
	if n := pool.Len(); n != 5 {
		t.Fatalf("Len = %d; want 5", n)
	}
	stopped := make(chan error, 1)
	// Ends when the supervisor has stopped, which the gate allows below.
	go func() { stopped <- sup.Stop(ctx) }()
	wait(t, began, "the drain")
	if err := pool.Push(ctx, 7); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("Push during the drain = %v; want ErrClosed", err)
	}
	if err := pool.TryPush(8); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("TryPush during the drain = %v; want ErrClosed", err)
	}
	close(gate)
	if err := wait(t, stopped, "Stop's return"); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
	if got, want := done.get(), []int{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("worked on %v; want %v", got, want)
	}
	ev, err := rec.WaitFor(ctx, supervisor.ChildStopped, "workers")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Returned != nil {
		t.Fatalf("Serve returned %v; want nil", ev.Returned)
	}
}

// When the deadline comes first, the work in hand is cancelled and what is
// still queued is handed to Dropped: every accepted item is accounted for.
func TestDrainForcedAtTheDeadline(t *testing.T) {
	var (
		dropped   log
		cancelled = make(chan int, 2)
		started   = make(chan int, 2)
	)
	// A deadline already past: the drain is forced at once, whatever the
	// machine's load.
	deadline, began := draining(func(context.Context) (time.Time, bool) { return time.Now(), true })
	pool := &drain.Pool[int]{
		Workers:  2,
		Capacity: 8,
		Deadline: deadline,
		Work: func(ctx context.Context, i int) {
			started <- i
			<-ctx.Done() // work that needs the forced step to end
			cancelled <- i
		},
		Dropped: dropped.add,
	}
	sup, rec := fixture(t, pool, time.Minute)
	ctx := testCtx(t)
	for i := 1; i <= 5; i++ {
		if err := pool.Push(ctx, i); err != nil {
			t.Fatalf("Push(%d) = %v", i, err)
		}
		if i <= 2 {
			wait(t, started, "an item's start")
		}
	}
	if err := sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want nil (the child returned within its budget)", err)
	}
	wait(t, began, "the drain")
	got := map[int]bool{wait(t, cancelled, "a cancellation"): true, wait(t, cancelled, "a cancellation"): true}
	if !got[1] || !got[2] {
		t.Fatalf("cancelled %v; want 1 and 2", got)
	}
	if got, want := dropped.get(), []int{3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("dropped %v; want %v", got, want)
	}
	ev, err := rec.WaitFor(ctx, supervisor.ChildStopped, "workers")
	if err != nil {
		t.Fatal(err)
	}
	var fe *drain.ForcedError
	if !errors.As(ev.Returned, &fe) || !errors.Is(ev.Returned, drain.ErrForced) {
		t.Fatalf("Serve returned %v; want a *ForcedError", ev.Returned)
	}
	if fe.Cancelled != 2 || fe.Dropped != 3 {
		t.Fatalf("ForcedError = %+v; want 2 cancelled, 3 dropped", fe)
	}
}

// The real deadline: a small budget and work that ends only when cancelled.
// The drain is forced before the supervisor would abandon the child.
func TestDrainForcedByTheStopDeadline(t *testing.T) {
	dropped := make(chan int, 4)
	started := make(chan int, 1)
	pool := &drain.Pool[int]{
		Capacity: 4,
		Margin:   time.Second, // generous, so a loaded machine does not overrun
		Work: func(ctx context.Context, i int) {
			started <- i
			<-ctx.Done()
		},
		Dropped: func(i int) { dropped <- i },
	}
	sup, _ := fixture(t, pool, 1500*time.Millisecond)
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		if err := pool.Push(ctx, i); err != nil {
			t.Fatalf("Push(%d) = %v", i, err)
		}
		if i == 1 {
			wait(t, started, "the first item's start")
		}
	}
	// nil, or an abandonment if the machine stalled past the margin: either
	// way the forced step runs, and the queued items are dropped.
	_ = sup.Stop(ctx)
	if got := []int{wait(t, dropped, "a drop"), wait(t, dropped, "a drop")}; !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("dropped %v; want [2 3]", got)
	}
}

// Pushers racing the drain: each push is refused with ErrClosed, or worked on,
// or dropped. Nothing is lost silently.
func TestNothingLostWhilePushersRaceTheDrain(t *testing.T) {
	for _, forced := range []bool{false, true} {
		name := map[bool]string{false: "polite", true: "forced"}[forced]
		t.Run(name, func(t *testing.T) {
			var worked, dropped, accepted atomic.Int64
			pool := &drain.Pool[int]{
				Workers:  3,
				Capacity: 16,
				Work:     func(context.Context, int) { worked.Add(1) },
				Dropped:  func(int) { dropped.Add(1) },
			}
			if forced {
				pool.Deadline = func(context.Context) (time.Time, bool) { return time.Now(), true }
			}
			sup, _ := fixture(t, pool, time.Minute)
			ctx := testCtx(t)
			var wg sync.WaitGroup
			refusedAll, enough := make(chan struct{}), make(chan struct{})
			var refused atomic.Int64
			for p := range 8 {
				wg.Add(1)
				// Ends at its first ErrClosed, which every push gets once the
				// drain has begun.
				go func() {
					defer wg.Done()
					for {
						var err error
						if p%2 == 0 {
							err = pool.Push(ctx, p)
						} else {
							err = pool.TryPush(p)
						}
						switch {
						case err == nil:
							if accepted.Add(1) == 100 {
								close(enough) // some traffic before the stop
							}
						case errors.Is(err, drain.ErrFull):
						case errors.Is(err, drain.ErrClosed):
							refused.Add(1)
							return
						default:
							t.Errorf("push = %v", err)
							return
						}
					}
				}()
			}
			// Ends once every pusher has been refused.
			go func() { wg.Wait(); close(refusedAll) }()
			select {
			case <-enough:
			case <-refusedAll:
				t.Fatal("pushers refused before the stop")
			}
			_ = sup.Stop(ctx)
			wait(t, refusedAll, "every pusher's refusal")
			if refused.Load() != 8 {
				t.Fatalf("%d pushers refused; want 8", refused.Load())
			}
			if a, w, d := accepted.Load(), worked.Load(), dropped.Load(); a != w+d {
				t.Fatalf("accepted %d, worked on %d, dropped %d: %d lost", a, w, d, a-w-d)
			} else if !forced && d != 0 {
				t.Fatalf("polite drain dropped %d", d)
			}
		})
	}
}

// A Work that panics is a crash of the child, which its supervisor restarts;
// the pool serves again after it.
func TestWorkPanicIsACrash(t *testing.T) {
	done := make(chan int, 1)
	pool := &drain.Pool[int]{
		Work: func(_ context.Context, i int) {
			if i == 13 {
				panic("unlucky")
			}
			done <- i
		},
	}
	_, rec := fixture(t, pool, time.Minute)
	ctx := testCtx(t)
	if err := pool.Push(ctx, 13); err != nil {
		t.Fatal(err)
	}
	ev, err := rec.WaitFor(ctx, supervisor.ChildExited, "workers")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "unlucky") || !ev.Restarted {
		t.Fatalf("exit = %v (restarted %v); want the panic, restarted", ev.Err, ev.Restarted)
	}
	if _, err := rec.WaitForNth(ctx, supervisor.ChildStarted, "workers", 2); err != nil {
		t.Fatal(err)
	}
	if err := pool.Push(ctx, 14); err != nil {
		t.Fatalf("Push after the restart = %v", err)
	}
	if got := wait(t, done, "work after the restart"); got != 14 {
		t.Fatalf("worked on %d; want 14", got)
	}
}

func TestServeTwiceAtOnceIsRefused(t *testing.T) {
	pool := &drain.Pool[int]{Work: func(context.Context, int) {}}
	fixture(t, pool, time.Minute)
	if err := pool.Serve(testCtx(t)); !errors.Is(err, drain.ErrServing) {
		t.Fatalf("second Serve = %v; want ErrServing", err)
	}
}
