package soak_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// notify is a nested supervisor's entry that tells the test when its parent
// cancels it.
type notify struct {
	*supervisor.Supervisor
	cancelled chan struct{}
}

func (n notify) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { close(n.cancelled) })
	defer stop()
	return n.Supervisor.Serve(ctx)
}

// A requested stop returns nil or the *StopTimeoutErrors of the children it
// abandoned, and a nested supervisor's abandonments are passed on to the
// root's Stop. But a parent passes on the nested supervisor's whole error
// as soon as it matches ErrStopTimeout: when the nested supervisor's start
// had failed and its cleanup then abandoned a child, it returns a *StartError
// joined with the *StopTimeoutError, and the root's Stop returns the
// *StartError too, as if the stop had been a failed start. Found by the
// chaos soak (a nested supervisor restarted into a start that timed out, as
// its parent was asked to stop).
func TestStopResultHoldsOnlyAbandonments(t *testing.T) {
	t.Skip("core bug: a parent passes a nested supervisor's whole error up a requested stop, a *StartError included")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clock := supervisortest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	release := make(chan struct{})
	defer close(release)
	aCancelled := make(chan struct{}, 2)
	// a ignores its cancellation until released: abandoned at its budget.
	a := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		aCancelled <- struct{}{}
		<-release
		return nil
	})
	// b is ready in its first run, never in the next.
	var runs atomic.Int32
	b := child.Func(func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			child.Ready(ctx)
		}
		<-ctx.Done()
		return nil
	})
	l2, err := supervisor.New("l2", []child.Spec{
		{ID: "a", Service: a, Shutdown: time.Second},
		{ID: "b", Service: b, AwaitReady: true, StartTimeout: time.Second},
	}, supervisor.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	entry := notify{l2, make(chan struct{})}
	root, err := supervisor.New("root", []child.Spec{{ID: "l2", Service: entry, Kind: child.KindSupervisor}})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// End l2's first run while a is not stuck yet: release a once.
	go func() { <-aCancelled; release <- struct{}{} }()
	if err := l2.Stop(ctx); err != nil {
		t.Fatalf("l2.Stop: %v", err)
	}
	// root restarts l2: a new run starts a, then waits on b, which never
	// reports ready. Time b out: l2's start fails, and its cleanup stops a,
	// which overruns.
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	<-aCancelled
	// Now ask the root to stop: it cancels l2, already cleaning up.
	stopped := make(chan error, 1)
	go func() { stopped <- root.Stop(ctx) }()
	<-entry.cancelled
	// a's budget runs out: l2 abandons it and returns.
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err = <-stopped
	var se *supervisor.StartError
	if errors.As(err, &se) {
		t.Fatalf("root.Stop returned a *StartError among its abandonments: %v", err)
	}
}
