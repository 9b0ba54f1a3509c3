package model_test

import (
	"context"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// Event.Incarnation promises that with Run and Child it names one call of the
// child's Serve, so that a start, an exit, a stop or an abandonment and the
// return can be matched: a child deleted (a temporary one that ended, or
// DeleteChild) and started again under the same ID within one run goes on
// counting, even while its abandoned incarnation still runs. Found by
// TestModel, when incarnations were numbered per entry.
func TestIncarnationUniqueAcrossDeleteAndStartChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rec := supervisortest.NewRecorder()
	release := make(chan struct{})
	stuck := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		<-release // returns only when the test says, long after its stop
		return nil
	})
	sup, err := supervisor.New("root", []child.Spec{
		{ID: "w", Service: stuck, Restart: child.Temporary, Shutdown: child.BrutalKill},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sup.Stop(ctx) }()
	defer close(release)

	// Incarnation 1 is abandoned at once (BrutalKill) and, temporary, deleted.
	if err := sup.TerminateChild(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	// The same ID is started again in the same run: a second call of Serve.
	if err := sup.StartChild(ctx, child.Spec{ID: "w", Service: stuck, Restart: child.Temporary, Shutdown: child.BrutalKill}); err != nil {
		t.Fatal(err)
	}
	first, err := rec.WaitForNth(ctx, supervisor.ChildStarted, "w", 1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := rec.WaitForNth(ctx, supervisor.ChildStarted, "w", 2)
	if err != nil {
		t.Fatal(err)
	}
	if first.Run == second.Run && first.Incarnation == second.Incarnation {
		t.Fatalf("two calls of Serve are both run %d incarnation %d of %q", second.Run, second.Incarnation, "w")
	}
}
