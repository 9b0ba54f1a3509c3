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

// When a Stop's deadline passes, every supervisor of the tree that is still
// waiting on a child cuts at the same moment, and each takes a goroutine
// profile of the whole process for its ChildAbandoned reports. In a wide
// tree with many goroutines those profiles, taken together, outlast
// StopGrace: the root does not answer in time, Stop returns a bare
// context.DeadlineExceeded, and the abandonments it promises to name are
// lost to the caller. The chaos soak's full tree hits it; this test builds
// the smallest tree that does on a 2-core machine.
func TestStopAnswersWithinStopGraceInAWideTree(t *testing.T) {
	// t.Skip("core bug: a deadline cut profiles goroutines once per supervisor, together past StopGrace; Stop then names nothing")
	const (
		nested  = 40   // supervisors under the root, each with a stuck child
		workers = 4000 // healthy workers beside them, for the profiles to walk
	)
	release := make(chan struct{})
	defer close(release)
	stuck := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		<-release
		return nil
	})
	idle := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
	var specs []child.Spec
	for i := range nested {
		kids := []child.Spec{{ID: "stuck", Service: stuck, Shutdown: child.Infinity}}
		for j := range workers / nested {
			kids = append(kids, child.Spec{ID: fmt.Sprintf("w%d", j), Service: idle})
		}
		sub, err := supervisor.New(fmt.Sprintf("s%d", i), kids)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, child.Spec{ID: sub.Name(), Service: sub, Kind: child.KindSupervisor})
	}
	root, err := supervisor.New("root", specs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := root.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopCtx, stopCancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stopCancel()
	begin := time.Now()
	err = root.Stop(stopCtx)
	var st *supervisor.StopTimeoutError
	if !errors.As(err, &st) {
		t.Errorf("Stop returned %v after %v: no abandonment named (StopGrace %v)", err, time.Since(begin), supervisor.StopGrace)
	}
	<-root.Done()
}
