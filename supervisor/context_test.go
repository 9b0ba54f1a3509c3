package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// The context a child gets behaves as a context.Context: contexts derived
// from it and context.AfterFunc are cancelled with it, without a goroutine
// per derived context; before the stop it has no error and no deadline.
func TestIncarnationContext(t *testing.T) {
	type result struct {
		before     error
		deadline   bool
		derivedErr error
		afterRan   bool
		extra      int
		err        error
	}
	res := make(chan result, 1)
	svc := child.Func(func(ctx context.Context) error {
		var r result
		r.before = ctx.Err()
		_, r.deadline = ctx.Deadline()
		base := runtime.NumGoroutine()
		derived := make([]context.Context, 100)
		for k := range derived {
			var cancel context.CancelFunc
			derived[k], cancel = context.WithCancel(ctx)
			defer cancel()
		}
		timed, cancelTimed := context.WithTimeout(ctx, testTimeout)
		defer cancelTimed()
		ran := make(chan struct{})
		context.AfterFunc(ctx, func() { close(ran) })
		r.extra = runtime.NumGoroutine() - base
		child.Ready(ctx)
		<-ctx.Done()
		for _, d := range derived {
			<-d.Done()
		}
		<-timed.Done()
		<-ran
		r.afterRan = true
		r.derivedErr = derived[0].Err()
		r.err = ctx.Err()
		res <- r
		return nil
	})
	s := mustNew(t, "root", []child.Spec{{ID: "a", Service: svc, AwaitReady: true}}, supervisor.WithClock(newClock()))
	startT(t, s)
	if err := stop(t, s); err != nil {
		t.Fatal(err)
	}
	r := recv(t, res, "the child's report")
	if r.before != nil || r.deadline {
		t.Errorf("before the stop: Err %v, deadline %v; want neither", r.before, r.deadline)
	}
	if !errors.Is(r.err, context.Canceled) || !errors.Is(r.derivedErr, context.Canceled) || !r.afterRan {
		t.Errorf("after the stop: Err %v, derived Err %v, AfterFunc ran %v", r.err, r.derivedErr, r.afterRan)
	}
	if r.extra > 10 {
		t.Errorf("deriving 101 contexts started %d goroutines: want none per derived context", r.extra)
	}
}
