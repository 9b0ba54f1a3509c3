package child_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/control"
	"github.com/arborgo/arbor/supervisor"
)

const drainTestTimeout = 20 * time.Second

type drainKey struct{}

// stopping returns a child context whose supervisor has asked it to stop,
// with deadline as its stop deadline, and the fake control behind it.
func stopping(t *testing.T, deadline time.Time) (context.Context, *fakeControl) {
	t.Helper()
	c := &fakeControl{path: "root/c"}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), drainKey{}, "v"))
	t.Cleanup(cancel)
	ctx = control.With(ctx, c)
	c.mu.Lock()
	c.deadline, c.stopping = deadline, true
	c.mu.Unlock()
	cancel()
	return ctx, c
}

func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(drainTestTimeout):
		t.Fatal("the drain context did not end")
	}
}

// Called once the child is asked to stop, the drain context keeps ctx's
// values, outlives ctx, and ends a little before the stop deadline.
func TestDrainContextEndsBeforeStopDeadline(t *testing.T) {
	deadline := time.Now().Add(200 * time.Millisecond)
	ctx, _ := stopping(t, deadline)
	dctx, cancel := child.DrainContext(ctx)
	defer cancel()
	if dctx.Value(drainKey{}) != "v" {
		t.Error("the drain context lost ctx's values")
	}
	d, ok := dctx.Deadline()
	if !ok || !d.Before(deadline) || d.Before(deadline.Add(-100*time.Millisecond)) {
		t.Errorf("Deadline() = %v, %v; want within 100ms before %v", d, ok, deadline)
	}
	waitDone(t, dctx)
	if !errors.Is(dctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, want DeadlineExceeded", dctx.Err())
	}
}

// A deadline already past gives a drain context that is already over.
func TestDrainContextPastDeadline(t *testing.T) {
	ctx, _ := stopping(t, time.Now().Add(-time.Second))
	dctx, cancel := child.DrainContext(ctx)
	defer cancel()
	if !errors.Is(dctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, want DeadlineExceeded", dctx.Err())
	}
}

// Outside a supervisor, the drain context ends only when cancelled.
func TestDrainContextWithoutDeadline(t *testing.T) {
	for name, early := range map[string]bool{"after the stop": false, "before the stop": true} {
		t.Run(name, func(t *testing.T) {
			ctx, cancelCtx := context.WithCancel(context.Background())
			defer cancelCtx()
			var dctx context.Context
			var cancel context.CancelFunc
			if early {
				dctx, cancel = child.DrainContext(ctx)
				cancelCtx()
			} else {
				cancelCtx()
				dctx, cancel = child.DrainContext(ctx)
			}
			if _, ok := dctx.Deadline(); ok {
				t.Error("a deadline without a supervisor")
			}
			if dctx.Err() != nil {
				t.Errorf("Err() = %v before cancel", dctx.Err())
			}
			cancel()
			if !errors.Is(dctx.Err(), context.Canceled) {
				t.Errorf("Err() = %v after cancel, want Canceled", dctx.Err())
			}
		})
	}
}

// Taken before the stop, the drain context reads the deadline when ctx ends.
func TestDrainContextBeforeStop(t *testing.T) {
	c := &fakeControl{path: "root/c"}
	ctx, cancelCtx := context.WithCancel(context.Background())
	defer cancelCtx()
	ctx = control.With(ctx, c)
	dctx, cancel := child.DrainContext(ctx)
	defer cancel()

	c.mu.Lock()
	c.deadline, c.stopping = time.Now().Add(50*time.Millisecond), true
	c.mu.Unlock()
	cancelCtx()
	waitDone(t, dctx)
	if !errors.Is(context.Cause(dctx), context.DeadlineExceeded) {
		t.Errorf("Cause() = %v, want DeadlineExceeded", context.Cause(dctx))
	}
}

// Cancelled before ctx ends, the drain context is over and arms nothing
// later (goleak checks that nothing is left running).
func TestDrainContextCancelledBeforeStop(t *testing.T) {
	c := &fakeControl{path: "root/c"}
	ctx, cancelCtx := context.WithCancel(control.With(context.Background(), c))
	dctx, cancel := child.DrainContext(ctx)
	cancel()
	c.mu.Lock()
	c.deadline, c.stopping = time.Now().Add(time.Hour), true
	c.mu.Unlock()
	cancelCtx()
	if !errors.Is(dctx.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want Canceled", dctx.Err())
	}
}

// Under a supervisor, a child's drain context ends before the child's stop
// deadline, by the margin it leaves the child to return, and then reports
// context.DeadlineExceeded. (Whether the child is then scheduled in time to
// return before the supervisor's own timer is the machine's business: only
// the margin is asserted, no timing.)
func TestDrainContextUnderSupervisor(t *testing.T) {
	type seen struct {
		drainEnd, stopDeadline time.Time
		err                    error
	}
	got := make(chan seen, 1)
	sup, err := supervisor.New("root", []child.Spec{{
		ID: "c", AwaitReady: true, Shutdown: time.Second,
		Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			dctx, cancel := child.DrainContext(ctx)
			defer cancel()
			var s seen
			s.drainEnd, _ = dctx.Deadline()
			s.stopDeadline, _ = child.StopDeadline(ctx)
			<-dctx.Done() // a drain that never finishes by itself
			s.err = dctx.Err()
			got <- s
			return nil
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTestTimeout)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_ = sup.Stop(ctx) // nil, or the child's abandonment on a machine too loaded to run it in time
	s := <-got
	if s.stopDeadline.IsZero() || s.drainEnd.IsZero() {
		t.Fatalf("drain end %v, stop deadline %v: want both", s.drainEnd, s.stopDeadline)
	}
	if margin := s.stopDeadline.Sub(s.drainEnd); margin <= 0 || margin > 100*time.Millisecond {
		t.Errorf("the drain ends %v before the stop deadline, want a margin in (0, 100ms]", margin)
	}
	if !errors.Is(s.err, context.DeadlineExceeded) {
		t.Errorf("drain ended with %v, want context.DeadlineExceeded", s.err)
	}
}

// A child that flushes what it holds once asked to stop, within its budget.
func ExampleDrainContext() {
	flushed := make(chan string, 1)
	flush := func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		flushed <- fmt.Sprint("flushing with a deadline: ", ok)
		return ctx.Err()
	}
	sup, _ := supervisor.New("root", []child.Spec{{
		ID: "writer", AwaitReady: true, Shutdown: 2 * time.Second,
		Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done() // asked to stop
			dctx, cancel := child.DrainContext(ctx)
			defer cancel()
			return flush(dctx)
		}),
	}})
	_ = sup.Start(context.Background())
	_ = sup.Stop(context.Background())
	fmt.Println(<-flushed)
	// Output:
	// flushing with a deadline: true
}
