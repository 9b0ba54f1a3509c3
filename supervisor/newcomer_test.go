package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// A nested supervisor declared without a Kind is a
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

// The ChildStarted event of a restart carries the restart
// count after it.
func TestChildStartedCarriesRestartCount(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	if ev := waitEvent(t, rec, supervisor.ChildStarted, "a", 1); ev.Restarts != 0 {
		t.Fatalf("first start: Restarts %d, want 0", ev.Restarts)
	}
	a.crash(t, errBoom)
	if ev := waitEvent(t, rec, supervisor.ChildStarted, "a", 2); ev.Restarts != 1 {
		t.Fatalf("start after the first restart: Restarts %d, want 1", ev.Restarts)
	}
	if c := find(t, children(t, s), "a"); c.Restarts != 1 {
		t.Fatalf("ChildInfo.Restarts = %d, want 1", c.Restarts)
	}
}

// What was accepted and failed only later is rejected when
// the tree is built: a nil Option, an empty name for NewSimple, and one
// supervisor placed at two places of a tree (or in its own).
func TestNewRejectsWhatWouldFailLater(t *testing.T) {
	a := newProbe("a", nil)
	if _, err := supervisor.New("root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), nil); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("New with a nil Option = %v, want ErrInvalidOption", err)
	}
	if err := supervisor.CheckSpecs([]child.Spec{pspec(a)}, nil); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("CheckSpecs with a nil Option = %v, want ErrInvalidOption", err)
	}
	start := func(context.Context, string) error { return nil }
	if _, err := supervisor.NewSimple("", child.Spec{ID: "w"}, start); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("NewSimple with an empty name = %v, want ErrInvalidOption", err)
	}
	if _, err := supervisor.NewSimple("p", child.Spec{ID: "w"}, start, nil); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("NewSimple with a nil Option = %v, want ErrInvalidOption", err)
	}

	db := mustNew(t, "db", []child.Spec{pspec(newProbe("pool", nil))})
	pool, err := supervisor.NewSimple("conns", child.Spec{ID: "c"}, start)
	if err != nil {
		t.Fatal(err)
	}
	mid := mustNew(t, "mid", []child.Spec{{ID: "db", Service: db}})
	for name, specs := range map[string][]child.Spec{
		"twice side by side": {{ID: "db1", Service: db}, {ID: "db2", Service: db}},
		"twice, one nested":  {{ID: "db", Service: db}, {ID: "mid", Service: mid}},
		"a Simple twice":     {{ID: "p1", Service: pool}, {ID: "p2", Service: pool}},
	} {
		_, err := supervisor.New("root", specs)
		var se *child.SpecError
		if !errors.As(err, &se) || se.Field != "Service" {
			t.Errorf("%s: New = %v, want a SpecError on Service", name, err)
		}
	}
	cfg := mid.Config()
	cfg.Children = append(cfg.Children, child.Spec{ID: "me", Service: mid})
	if _, err := mid.Apply(testCtx(t), cfg); err == nil {
		t.Error("Apply placing a supervisor in its own tree = nil, want an error")
	}
}

// A nested supervisor built without a logger or hooks
// reports through its parent's, under its own path; the parent's report of a
// nested give-up says it gave up, not what the grandchild last did.
func TestNestedInheritsLoggerAndHooks(t *testing.T) {
	log, logs := observed()
	rec := supervisortest.NewRecorder()
	c := newProbe("c", nil)
	db := mustNew(t, "db", []child.Spec{pspec(c)}, supervisor.WithClock(newClock()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Second}))
	root := mustNew(t, "root", []child.Spec{{ID: "db", Service: db, Restart: child.Temporary}}, supervisor.WithClock(newClock()),
		supervisor.WithLogger(log), supervisor.WithHook(rec.Hook()))
	startT(t, root)
	c.crash(t, errBoom)
	ev := waitEvent(t, rec, supervisor.IntensityExceeded, "c", 1)
	if ev.Supervisor != "root/db" {
		t.Fatalf("nested event from %q, want root/db", ev.Supervisor)
	}
	waitEvent(t, rec, supervisor.ChildExited, "db", 1)
	var nestedLogged, parentSaysGaveUp bool
	for _, e := range logs.All() {
		m := e.ContextMap()
		if m["supervisor"] == "root/db" && m["context"] == "reached_max_restart_intensity" {
			nestedLogged = true
		}
		if m["supervisor"] == "root" && m["child"] == "db" && m["context"] == "child_terminated" {
			parentSaysGaveUp = m["reason"] == "gave_up" && m["gave_up_after"] == "root/db/c"
		}
	}
	if !nestedLogged || !parentSaysGaveUp {
		t.Fatalf("nested give-up logged: %v, parent's report says gave up: %v; logs %v", nestedLogged, parentSaysGaveUp, logs.All())
	}

	// A nested supervisor with hooks of its own keeps them to itself.
	own := supervisortest.NewRecorder()
	prec := supervisortest.NewRecorder()
	d := newProbe("d", nil)
	sub := mustNew(t, "sub", []child.Spec{pspec(d)}, supervisor.WithClock(newClock()), supervisor.WithHook(own.Hook()))
	top := mustNew(t, "top", []child.Spec{{ID: "sub", Service: sub}}, supervisor.WithClock(newClock()), supervisor.WithHook(prec.Hook()))
	startT(t, top)
	waitEvent(t, own, supervisor.ChildStarted, "d", 1)
	waitEvent(t, prec, supervisor.ChildStarted, "sub", 1)
	if n := prec.Count(supervisor.ChildStarted, "d"); n != 0 {
		t.Fatal("the parent's hook got the events of a nested supervisor that has hooks of its own")
	}
}

// A child deleted and started again with the same ID goes on counting its
// incarnations, so Run, Child and Incarnation name one call of Serve.
func TestIncarnationsCountOnAcrossDelete(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	if err := s.TerminateChild(testCtx(t), "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChild(testCtx(t), "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartChild(testCtx(t), pspec(a)); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, rec, supervisor.ChildStarted, "a", 2); ev.Incarnation != 2 {
		t.Fatalf("the re-added child's first incarnation is %d, want 2", ev.Incarnation)
	}
}

// The exit that makes the supervisor give up is not restarted, and its
// ChildExited event says so; it is still reported (child_terminated), then
// the give-up.
func TestGiveUpExitIsNotRestarted(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Second}))
	v := serveAsync(t, s)
	a.waitStart(t, 1)
	a.crash(t, nil) // a permanent child's normal exit: it wants a restart
	if err := v.wait(t); !errors.Is(err, escalation.ErrExceeded) {
		t.Fatalf("Serve = %v, want the give-up", err)
	}
	ev := waitEvent(t, rec, supervisor.ChildExited, "a", 1)
	if ev.Restarted || ev.Context() != "child_terminated" {
		t.Fatalf("child_exited: Restarted %v, context %q; want not restarted, reported", ev.Restarted, ev.Context())
	}
}
