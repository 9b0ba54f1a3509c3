package supervisor_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// With the system clock, a restart waiting for its backoff delay wakes the
// loop when due, and an earlier restart scheduled later wakes it first: the
// timer is re-armed for the earliest one.
func TestBackoffWakesLoopOnSystemClock(t *testing.T) {
	a, b := newProbe("a", nil), newProbe("b", nil)
	delays := map[string]time.Duration{"a": time.Hour, "b": 20 * time.Millisecond}
	built := 0
	ids := []string{"a", "b"}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)}, lenient, supervisor.WithHook(rec.Hook()),
		supervisor.WithBackoff(func() supervisor.BackOff { built++; return &perChild{d: delays[ids[(built-1)%2]]} }))
	startT(t, s)
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "a", 1)
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "b", 1)
	waitEvent(t, rec, supervisor.ChildStarted, "b", 2)
	wantStates(t, s, "a=restarting", "b=running")
	start := time.Now()
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop during a backoff wait: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stop took %v while a restart waited for an hour", d)
	}
	if a.incarnations() != 1 {
		t.Errorf("a started %d times, want 1", a.incarnations())
	}
}

// The end of Serve's ctx wakes a loop that waits for nothing else, as a Stop
// does.
func TestServeCtxEndWakesIdleLoop(t *testing.T) {
	a := newProbe("a", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10 s after its ctx ended")
	}
}

// Many calls at once, more than the inbox holds, some from callers that have
// already given up, are each answered or withdrawn: every start asked for with
// a live ctx is carried out once.
func TestCallsBeyondInbox(t *testing.T) {
	s := mustNew(t, "root", nil, lenient)
	startT(t, s)
	const n = 300
	errs := make(chan error, n)
	for i := range n {
		go func() {
			if i%3 == 2 {
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // gone at once: the call is made or not, never half
				_, err := s.CountChildren(ctx)
				if err == context.Canceled {
					err = nil
				}
				errs <- err
				return
			}
			errs <- s.StartChild(context.Background(), child.Spec{ID: "c" + strconv.Itoa(i), Service: benchIdleService, Restart: child.Temporary})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if c, err := s.CountChildren(testCtx(t)); err != nil || c.Specs != 2*n/3 || c.Active != 2*n/3 {
		t.Errorf("CountChildren = %+v, %v; want %d running", c, err, 2*n/3)
	}
}

// benchIdleService waits for its stop.
var benchIdleService = child.Func(func(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
})
