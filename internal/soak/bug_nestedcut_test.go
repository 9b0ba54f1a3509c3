package soak_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/registry"
	"github.com/arborgo/arbor/supervisor"
)

// gateCore is a zap core whose writes of the message "child abandoned" wait
// for gate: it holds the supervisor that logs through it at that point.
type gateCore struct {
	zapcore.LevelEnabler
	gate <-chan struct{}
}

func (c gateCore) With([]zapcore.Field) zapcore.Core { return c }
func (c gateCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c gateCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	if e.Message == "child abandoned" {
		<-c.gate
	}
	return nil
}
func (gateCore) Sync() error { return nil }

// When a shutdown's deadline passes, a supervisor abandons the child it is
// waiting on (reporting it, which takes a goroutine profile and logs) and
// only then cancels the children it has not reached yet. Its parent, cut at
// the same deadline, abandons it meanwhile and can restart it at once: the
// new run's children then start while the old run's same children still have
// live contexts. That breaks the promise that an old incarnation's context
// is cancelled before its replacement starts, and with it the registry's
// rule: the new incarnation's Register fails with ErrTaken, its start fails.
// The chaos soak found it (no logger needed: the profile is the delay); the
// gated logger here only makes the window certain.
func TestNestedRestartAfterDeadlineCutCancelsOldChildrenFirst(t *testing.T) {
	t.Skip("core bug: a deadline-cut nested supervisor's unreached children keep live contexts while its parent restarts it")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var reg registry.Registry[int]
	gate, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	// w holds a registry name for the life of each incarnation.
	w := child.Func(func(ctx context.Context) error {
		if err := reg.Register(ctx, "w", 1); err != nil {
			return err
		}
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	// x, stopped first (reverse order), ignores cancellation until released.
	x := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		<-release
		return nil
	})
	b, err := supervisor.New("b", []child.Spec{
		{ID: "w", Service: w, AwaitReady: true},
		{ID: "x", Service: x, Shutdown: child.Infinity},
	}, supervisor.WithLogger(zap.New(gateCore{zapcore.DebugLevel, gate})))
	if err != nil {
		t.Fatal(err)
	}
	a, err := supervisor.New("a", []child.Spec{{ID: "b", Service: b, Kind: child.KindSupervisor}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The deadline cuts b (a abandons it) while b, cut too, reports x.
	stopCtx, stopCancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = a.Stop(stopCtx)
	stopCancel()
	if !errors.Is(err, supervisor.ErrStopTimeout) {
		t.Fatalf("a.Stop: %v, want b's abandonment", err)
	}
	// a serves again, as its parent would restart it: b begins a new run
	// beside the abandoned one, and starts w.
	err = a.Start(ctx)
	close(gate)
	defer func() { _ = a.Stop(ctx) }()
	if err != nil {
		t.Fatalf("restart of the cut subtree: %v (the old w still holds its name: its context was not cancelled)", err)
	}
}
