package supervisor_test

import (
	"context"
	"errors"
	"fmt"
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

// failAfterFirst makes every incarnation of p after the first fail its start.
func failAfterFirst(p *probe) *probe {
	p.onStart = func(ctx context.Context, n int) error {
		if n > 1 {
			return errStartFail
		}
		return nil
	}
	return p
}

// failOnce makes incarnation n of p, and only it, fail its start.
func failOnce(p *probe, n int) *probe {
	p.onStart = func(ctx context.Context, k int) error {
		if k == n {
			return errStartFail
		}
		return nil
	}
	return p
}

// constantBackoff is a WithBackoff option with a constant delay d.
func constantBackoff(d time.Duration) supervisor.Option {
	return supervisor.WithBackoff(func() supervisor.BackOff { return backoff.NewConstantBackOff(d) })
}

// a7, a6, a14.1-2: each retry after a failed restart is a new restart event,
// so a child whose restart always fails gets exactly MaxRestarts start
// attempts, then the supervisor gives up without another attempt and stops
// the sibling.
func TestFailedRestartGetsIntensityAttempts(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprintf("intensity %d", n), func(t *testing.T) {
			a, f := newProbe("a", nil), failAfterFirst(newProbe("f", nil))
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{pspec(a), pspec(f)},
				supervisor.WithIntensity(escalation.Intensity{MaxRestarts: n, Period: time.Hour}),
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			f.crash(t, errBoom)
			err := waitSup(t, s)
			wantGiveUp(t, err, "f", errStartFail)

			waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
			if got := rec.Count(supervisor.ChildStartFailed, "f"); got != n {
				t.Errorf("%d child_start_failed events, want %d", got, n)
			}
			if got := f.incarnations(); got != n+1 {
				t.Errorf("f started %d times, want %d (first start + %d attempts)", got, n+1, n)
			}
			want := []string{"child_exited f"}
			for range n {
				want = append(want, "child_start_failed f")
			}
			want = append(want, "intensity_exceeded f", "child_stopped a", "supervisor_stopped")
			if got := kinds(after(rec.Events(), supervisor.SupervisorReady)); !slices.Equal(got, want) {
				t.Errorf("events\n got  %q\n want %q", got, want)
			}
		})
	}
}

// blockingRetries makes every incarnation of p after the first, while failing
// is set, report its number on attempts and then fail once the test sends on
// release.
func blockingRetries(p *probe, failing *atomic.Bool, attempts chan<- int, release <-chan struct{}) *probe {
	p.onStart = func(ctx context.Context, n int) error {
		if n == 1 || !failing.Load() {
			return nil
		}
		select {
		case attempts <- n:
		default: // the test reads only the first few
		}
		select {
		case <-release:
			return errStartFail
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p
}

// a7: a child whose restart keeps failing is listed as restarting, and the
// supervisor answers calls while it retries.
func TestRestartingChildIsListedDuringRetries(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	attempts, release := make(chan int, 64), make(chan struct{})
	a := newProbe("a", nil)
	f := blockingRetries(newProbe("f", nil), &failing, attempts, release)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(f)}, lenient,
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	f.crash(t, errBoom)

	for attempt := 2; attempt <= 3; attempt++ {
		if got := recv(t, attempts, "a restart attempt"); got != attempt {
			t.Fatalf("attempt %d, want %d", got, attempt)
		}
		wantStates(t, s, "a=running", "f=restarting")
		if attempt == 3 {
			failing.Store(false) // the attempt after this one succeeds
		}
		release <- struct{}{}
		waitEvent(t, rec, supervisor.ChildStartFailed, "f", attempt-1)
	}
	waitEvent(t, rec, supervisor.ChildStarted, "f", 2)
	infos := wantStates(t, s, "a=running", "f=running")
	if got := find(t, infos, "f").Restarts; got != 1 {
		t.Errorf("f: Restarts %d, want 1", got)
	}
}

// a7: TerminateChild on a restarting child succeeds, leaves it stopped and
// drops the pending retry; RestartChild then works.
func TestTerminateRestartingChildDropsRetry(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	attempts, release := make(chan int, 256), make(chan struct{})
	a := newProbe("a", nil)
	f := blockingRetries(newProbe("f", nil), &failing, attempts, release)
	rec := supervisortest.NewRecorder()
	// TerminateChild is handled between two attempts; how many attempts fail
	// before its request arrives depends on scheduling, so the intensity is
	// out of reach.
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(f)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1 << 20, Period: time.Hour}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	f.crash(t, errBoom)
	recv(t, attempts, "the first restart attempt")

	termErr := make(chan error, 1)
	// Ends when TerminateChild returns: the loop below fails attempts until then.
	go func() { termErr <- s.TerminateChild(testCtx(t), "f") }()
	failed := 0
	for done := false; !done; {
		select {
		case err := <-termErr:
			if err != nil {
				t.Fatalf("TerminateChild(f) while restarting: %v", err)
			}
			done = true
		case release <- struct{}{}:
			failed++
		case <-time.After(testTimeout):
			t.Fatal("TerminateChild did not return")
		}
	}
	wantStates(t, s, "a=running", "f=stopped")

	failing.Store(false)
	if err := s.RestartChild(testCtx(t), "f"); err != nil {
		t.Fatalf("RestartChild(f) after TerminateChild: %v", err)
	}
	wantStates(t, s, "a=running", "f=running")
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// First start, the failed attempts, and RestartChild's: nothing retried
	// after TerminateChild.
	if got, want := f.incarnations(), failed+2; got != want {
		t.Errorf("f started %d times, want %d", got, want)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if got := rec.Count(supervisor.ChildStartFailed, "f"); got != failed {
		t.Errorf("%d child_start_failed events, want %d", got, failed)
	}
}

// a7: the calls on a restarting child (here waiting for its backoff delay)
// answer as OTP's table says: RestartChild and DeleteChild ErrRestarting,
// StartChild ErrAlreadyPresent, TerminateChild succeeds and drops the retry;
// the restarting child is not active.
func TestRestartingChildAPI(t *testing.T) {
	clock := newClock()
	a, f := newProbe("a", nil), newProbe("f", nil)
	var failing atomic.Bool
	f.onStart = func(ctx context.Context, n int) error {
		if n > 1 && failing.Load() {
			return errStartFail
		}
		return nil
	}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(f)}, lenient, constantBackoff(time.Second),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	failing.Store(true)
	f.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "f", 1)

	ctx := testCtx(t)
	wantStates(t, s, "a=running", "f=restarting")
	if c, err := s.CountChildren(ctx); err != nil || c.Active != 1 || c.Specs != 2 {
		t.Errorf("CountChildren = %+v, %v; want 2 specs, 1 active", c, err)
	}
	if err := s.RestartChild(ctx, "f"); !errors.Is(err, supervisor.ErrRestarting) {
		t.Errorf("RestartChild(restarting) = %v, want ErrRestarting", err)
	}
	if err := s.DeleteChild(ctx, "f"); !errors.Is(err, supervisor.ErrRestarting) {
		t.Errorf("DeleteChild(restarting) = %v, want ErrRestarting", err)
	}
	if err := s.StartChild(ctx, pspec(f)); !errors.Is(err, supervisor.ErrAlreadyPresent) {
		t.Errorf("StartChild(restarting) = %v, want ErrAlreadyPresent", err)
	}
	if err := s.TerminateChild(ctx, "f"); err != nil {
		t.Fatalf("TerminateChild(restarting) = %v, want nil", err)
	}
	wantStates(t, s, "a=running", "f=stopped")

	// The dropped retry's timer fires; nothing restarts.
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	failing.Store(false)
	if err := s.RestartChild(ctx, "f"); err != nil {
		t.Fatalf("RestartChild after TerminateChild: %v", err)
	}
	wantStates(t, s, "a=running", "f=running")
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := f.incarnations(); got != 2 {
		t.Errorf("f started %d times, want 2 (first start and RestartChild's)", got)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if got := rec.Count(supervisor.ChildStartFailed, "f"); got != 0 {
		t.Errorf("%d child_start_failed events: the dropped retry ran", got)
	}
}

// a7, a14.2: a one_for_all retry restarts the whole group: the children that
// had started in the failed attempt are stopped again, in reverse order, and
// everything is started from the first child.
func TestOneForAllRetryRestartsWholeGroup(t *testing.T) {
	j := &journal{}
	a, b, c := newProbe("a", j), failOnce(newProbe("b", j), 2), newProbe("c", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b), pspec(c)}, lenient,
		supervisor.WithStrategy(strategy.OneForAll), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	c.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "c", 2)
	wantJournal(t, j,
		"exit c", "stop b", "stop a", // the crash: the others stopped in reverse order
		"start a", "start b", "fail b", // the group restart; b fails to start
		"stop a",                        // the retry: a stopped again
		"start a", "start b", "start c") // and the whole group started again
	wantStates(t, s, "a=running", "b=running", "c=running")
}

// a7, a14.2: a rest_for_one retry starts from the child that failed to start;
// the child whose crash began the restart is not restarted again.
func TestRestForOneRetryStartsFromFailingChild(t *testing.T) {
	j := &journal{}
	a, b, c, d := newProbe("a", j), newProbe("b", j), failOnce(newProbe("c", j), 2), newProbe("d", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b), pspec(c), pspec(d)}, lenient,
		supervisor.WithStrategy(strategy.RestForOne), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "d", 2)
	wantJournal(t, j,
		"exit b", "stop d", "stop c",
		"start b", "start c", "fail c",
		"start c", "start d")
	wantStates(t, s, "a=running", "b=running", "c=running", "d=running")
	if a.incarnations() != 1 || b.incarnations() != 2 {
		t.Errorf("a started %d times (want 1), b %d (want 2)", a.incarnations(), b.incarnations())
	}
}

// a7 (arbor's backoff): with WithBackoff a restart waits for its delay on the
// supervisor's clock: a RestartScheduled event carries the delay, the child is
// restarting and not active meanwhile, it restarts only once the clock has
// advanced by the delay, and Stop interrupts the wait.
func TestBackoffDelaysRestart(t *testing.T) {
	clock := newClock()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient, constantBackoff(time.Second),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	a.crash(t, errBoom)
	ev := waitEvent(t, rec, supervisor.RestartScheduled, "a", 1)
	if ev.Delay != time.Second || !errors.Is(ev.Err, errBoom) {
		t.Errorf("restart_scheduled: Delay %v, Err %v; want 1s, boom", ev.Delay, ev.Err)
	}
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second - time.Millisecond)
	wantStates(t, s, "a=restarting")
	if c, err := s.CountChildren(testCtx(t)); err != nil || c.Active != 0 {
		t.Errorf("CountChildren = %+v, %v; want 0 active", c, err)
	}
	if a.incarnations() != 1 {
		t.Fatalf("a restarted before its delay")
	}
	clock.Advance(time.Millisecond)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	wantStates(t, s, "a=running")

	// Stop during the next wait returns without the clock moving.
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "a", 2)
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop during a backoff wait: %v", err)
	}
	if a.incarnations() != 2 {
		t.Errorf("a started %d times, want 2", a.incarnations())
	}
}

// a7, a14.2: with a backoff, every failed attempt still counts toward
// intensity: MaxRestarts 2 gives two attempts, then the supervisor gives up.
func TestBackoffFailedRestartsStillCount(t *testing.T) {
	clock := newClock()
	f := failAfterFirst(newProbe("f", nil))
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(f)}, constantBackoff(time.Second),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 2, Period: time.Hour}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	f.crash(t, errBoom)
	for i := 1; i <= 2; i++ {
		waitEvent(t, rec, supervisor.RestartScheduled, "f", i)
		if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	wantGiveUp(t, waitSup(t, s), "f", errStartFail)
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if got := rec.Count(supervisor.ChildStartFailed, "f"); got != 2 {
		t.Errorf("%d child_start_failed events, want 2", got)
	}
	if got := f.incarnations(); got != 3 {
		t.Errorf("f started %d times, want 3", got)
	}
}

// a7 (arbor's backoff): the policy is reset once the child has stayed up a
// whole intensity period, so the next delay is the initial one again.
func TestBackoffResetsAfterChildStaysUpAPeriod(t *testing.T) {
	clock := newClock()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	exp := supervisor.WithBackoff(func() supervisor.BackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.Multiplier, b.RandomizationFactor = time.Second, 2, 0
		b.MaxInterval, b.MaxElapsedTime = time.Hour, 0
		b.Reset()
		return b
	})
	s := mustNew(t, "root", []child.Spec{pspec(a)}, exp,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 100, Period: 10 * time.Second}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)

	crashAndRestart := func(n int) time.Duration {
		t.Helper()
		a.crash(t, errBoom)
		ev := waitEvent(t, rec, supervisor.RestartScheduled, "a", n)
		if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(ev.Delay)
		waitEvent(t, rec, supervisor.ChildStarted, "a", n+1)
		return ev.Delay
	}
	var delays []time.Duration
	delays = append(delays, crashAndRestart(1), crashAndRestart(2)) // up for no time: 1s, then 2s
	clock.Advance(10 * time.Second)                                 // up a whole period
	delays = append(delays, crashAndRestart(3))
	if want := []time.Duration{time.Second, 2 * time.Second, time.Second}; !slices.Equal(delays, want) {
		t.Fatalf("backoff delays %v, want %v", delays, want)
	}
}

// a7 (arbor's backoff): a policy that returns backoff.Stop makes the
// supervisor give up with a *GiveUpError matching ErrBackoffStop.
func TestBackoffStopGivesUp(t *testing.T) {
	a := newProbe("a", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient,
		supervisor.WithBackoff(func() supervisor.BackOff { return &backoff.StopBackOff{} }),
		supervisor.WithClock(newClock()))
	startT(t, s)
	a.crash(t, errBoom)
	err := waitSup(t, s)
	var gu *supervisor.GiveUpError
	if !errors.As(err, &gu) || gu.Child != "a" || !errors.Is(err, supervisor.ErrBackoffStop) || !errors.Is(err, errBoom) {
		t.Fatalf("Serve returned %v, want a *GiveUpError for a matching ErrBackoffStop and boom", err)
	}
	if a.incarnations() != 1 {
		t.Errorf("a started %d times, want 1", a.incarnations())
	}
}
