package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// When a Stop's deadline cuts a wide tree, every supervisor in it that waits
// on a stuck child cuts at the same moment and reports; one goroutine
// profile serves them all, instead of one per supervisor taken together
// (which, in a big process, outlasted StopGrace, and Stop then named
// nothing). Counted, not timed.
func TestCutTreeSharesOneProfile(t *testing.T) {
	count, restore := supervisor.CountTakenProfiles()
	defer restore()
	const nested = 10
	release, free := newGate(t)
	defer free()
	stuck := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		<-release
		return nil
	})
	var specs []child.Spec
	for i := range nested {
		sub := mustNew(t, fmt.Sprintf("s%d", i), []child.Spec{{ID: "stuck", Service: stuck, Shutdown: child.Infinity}})
		specs = append(specs, child.Spec{ID: sub.Name(), Service: sub})
	}
	root := mustNew(t, "root", specs)
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := root.Stop(ctx)
	<-root.Done()
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v", err)
	}
	free()
	if n := count(); n > 3 {
		t.Fatalf("%d goroutine profiles for one cut of %d supervisors, want them shared (at most 3)", n, nested+1)
	}
}
