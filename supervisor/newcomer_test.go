package supervisor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// Issue 12 item 1: a nested supervisor declared without a Kind is a
// supervisor: awaited (the next sibling starts only once its subtree is up)
// and given a supervisor's unbounded budgets; declared a worker, it is
// rejected.
func TestNestedKindFromService(t *testing.T) {
	j := &journal{}
	pool := newProbe("pool", j)
	gate, open := newGate(t)
	pool.onStart = func(ctx context.Context, _ int) error { <-gate; return nil }
	db := mustNew(t, "db", []child.Spec{pspec(pool)}, supervisor.WithClock(newClock()))
	api := newProbe("api", j)
	root := mustNew(t, "root", []child.Spec{{ID: "db", Service: db}, pspec(api)}, supervisor.WithClock(newClock()))
	v := serveAsync(t, root)
	pool.waitStart(t, 1)
	if n := api.incarnations(); n != 0 {
		t.Fatal("api started before db's pool was ready: db was not awaited")
	}
	open()
	recv(t, root.Ready(), "root ready")
	spec, err := root.ChildSpec(testCtx(t), "db")
	if err != nil || spec.Kind != child.KindSupervisor || spec.Shutdown != child.Infinity || !spec.AwaitReady {
		t.Fatalf("db's spec = %+v, %v; want a supervisor's", spec, err)
	}
	wantJournal(t, j, "start pool", "start api")
	v.cancel()
	if err := v.wait(t); err != nil {
		t.Fatal(err)
	}

	_, err = supervisor.New("bad", []child.Spec{{ID: "db", Service: db, Kind: child.KindWorker}})
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "Kind" {
		t.Fatalf("New with a supervisor declared a worker = %v, want a SpecError on Kind", err)
	}
}
