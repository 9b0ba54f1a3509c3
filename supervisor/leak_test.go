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

// leakyWorker is a goroutine that outlives the incarnation that started
// it. It closes running, if given, first: a goroutine not yet scheduled shows
// no frame of its own in a goroutine profile, so a test that looks for it in
// a leak's stacks waits for it to run.
func leakyWorker(release <-chan struct{}, running chan<- struct{}) {
	if running != nil {
		close(running)
	}
	<-release
}

// A goroutine a child started and left running when it
// returned is reported, grace after its return, with its stack, as a leak of
// that incarnation; a goroutine of a later, live incarnation is not.
func TestLeakCheckReportsLeftGoroutines(t *testing.T) {
	release, free := newGate(t)
	clock := newClock()
	rec := supervisortest.NewRecorder()
	var n int
	svc := child.Func(func(ctx context.Context) error {
		n++
		if n == 1 {
			child.Ready(ctx)
			running := make(chan struct{})
			go leakyWorker(release, running) // left behind: a leak
			<-running
			return errBoom // restarted
		}
		go leakyWorker(release, nil) // the live incarnation's: no leak
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	s := mustNew(t, "root", []child.Spec{{ID: "a", Service: svc, AwaitReady: true, StartTimeout: child.Infinity}},
		supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()), supervisor.WithLeakCheck(time.Second))
	v := serveAsync(t, s)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil { // the check of incarnation 1
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	ev := waitEvent(t, rec, supervisor.ChildLeaked, "a", 1)
	var le *supervisor.LeakError
	if !errors.As(ev.Err, &le) || !errors.Is(ev.Err, supervisor.ErrGoroutineLeak) {
		t.Fatalf("child_leaked Err = %v, want a *LeakError", ev.Err)
	}
	if ev.Incarnation != 1 || le.Incarnation != 1 || le.Goroutines != 1 || !strings.Contains(le.Stacks, "leakyWorker") {
		t.Fatalf("leak %+v (event incarnation %d), want incarnation 1's one goroutine in leakyWorker", le, ev.Incarnation)
	}
	v.cancel()
	if err := v.wait(t); err != nil {
		t.Fatal(err)
	}
	if n := rec.Count(supervisor.ChildLeaked, "a"); n != 1 {
		t.Fatalf("%d leaks reported, want only incarnation 1's", n)
	}
	free()
}

// A clean child is not reported, and two trees with the same names are told
// apart: a leak check of one never sees the other's goroutines.
func TestLeakCheckCleanChildAndTwoTrees(t *testing.T) {
	release, free := newGate(t)
	defer free()
	// Tree B, same root name and child ID, runs a helper goroutine all along.
	other := child.Func(func(ctx context.Context) error {
		go leakyWorker(release, nil)
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	b := mustNew(t, "root", []child.Spec{{ID: "a", Service: other, AwaitReady: true}}, supervisor.WithClock(newClock()))
	startT(t, b)

	clock := newClock()
	rec := supervisortest.NewRecorder()
	clean := child.Func(func(ctx context.Context) error { return nil })
	a := mustNew(t, "root", []child.Spec{{ID: "a", Service: clean, Restart: child.Transient}},
		supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()), supervisor.WithLeakCheck(time.Second))
	startT(t, a)
	waitEvent(t, rec, supervisor.ChildExited, "a", 1)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := clock.WaitForWaiters(testCtx(t), 0); err != nil { // the check ran
		t.Fatal(err)
	}
	settle(t, a)
	if n := rec.Count(supervisor.ChildLeaked, ""); n != 0 {
		t.Fatalf("%d leaks reported for a clean child", n)
	}
}
