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

// subSpec is the spec of a nested supervisor.
func subSpec(id string, s *supervisor.Supervisor) child.Spec {
	return child.Spec{ID: id, Service: s, Kind: child.KindSupervisor}
}

// a3, nesting: a nested supervisor is ready only once all its children are,
// so the parent starts the sibling after it only then.
func TestNestedSupervisorReadyOnlyWhenItsChildrenAre(t *testing.T) {
	j := &journal{}
	xStarted := make(chan struct{}, 1)
	gate, open := newGate(t)
	y, after := newProbe("y", j), newProbe("after", j)
	sub := mustNew(t, "sub", []child.Spec{
		{ID: "x", Service: gatedReady("x", j, xStarted, gate), AwaitReady: true, StartTimeout: child.Infinity},
		pspec(y),
	})
	root := mustNew(t, "root", []child.Spec{subSpec("sub", sub), pspec(after)})

	startErr := make(chan error, 1)
	// Ends when Start returns, once x is released below.
	go func() { startErr <- root.Start(testCtx(t)) }()
	t.Cleanup(func() { _ = stop(t, root) })
	recv(t, xStarted, "x to start")
	infos := children(t, root)
	if st := find(t, infos, "sub").State; st == supervisor.StateRunning {
		t.Fatalf("sub is %v before its child x is ready", st)
	}
	if st := find(t, infos, "after").State; st == supervisor.StateRunning {
		t.Fatalf("after is %v before sub is ready", st)
	}

	open()
	if err := recv(t, startErr, "Start"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	wantJournal(t, j, "start x", "ready x", "start y", "start after")
	wantStates(t, root, "sub=running", "after=running")
	wantStates(t, sub, "x=running", "y=running")
}

// Nesting: a nested supervisor's path is its parent's path and its spec ID;
// its events and its children's child.Path carry it.
func TestNestedEventsCarryPath(t *testing.T) {
	paths := make(chan string, 1)
	x := child.Func(func(ctx context.Context) error {
		paths <- child.Path(ctx)
		child.Ready(ctx)
		<-ctx.Done()
		return ctx.Err()
	})
	subRec, rootRec := supervisortest.NewRecorder(), supervisortest.NewRecorder()
	sub := mustNew(t, "sub", []child.Spec{{ID: "x", Service: x, AwaitReady: true}},
		supervisor.WithHook(subRec.Hook()), supervisor.WithClock(newClock()))
	root := mustNew(t, "root", []child.Spec{subSpec("sub", sub)},
		supervisor.WithHook(rootRec.Hook()), supervisor.WithClock(newClock()))
	startT(t, root)
	if p := recv(t, paths, "x's path"); p != "root/sub/x" {
		t.Errorf("child.Path in x = %q, want root/sub/x", p)
	}
	ev := waitEvent(t, subRec, supervisor.ChildStarted, "x", 1)
	if ev.Supervisor != "root/sub" {
		t.Errorf("nested event Supervisor = %q, want root/sub", ev.Supervisor)
	}
	ev = waitEvent(t, subRec, supervisor.SupervisorReady, "", 1)
	if ev.Supervisor != "root/sub" {
		t.Errorf("nested supervisor_ready Supervisor = %q, want root/sub", ev.Supervisor)
	}
	ev = waitEvent(t, rootRec, supervisor.ChildStarted, "sub", 1)
	if ev.Supervisor != "root" {
		t.Errorf("root event Supervisor = %q, want root", ev.Supervisor)
	}
}

// a8 escalation (arbor's decision), a14.5: a nested supervisor that exceeds
// its intensity returns an abnormal error, so a parent that holds it as a
// transient child sees an abnormal exit wrapping ErrExceeded and the child's
// error, and restarts it.
func TestNestedGiveUpRestartedByTransientParentEntry(t *testing.T) {
	x := newProbe("x", nil)
	subRec, rootRec := supervisortest.NewRecorder(), supervisortest.NewRecorder()
	sub := mustNew(t, "sub", []child.Spec{pspec(x)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithHook(subRec.Hook()), supervisor.WithClock(newClock()))
	sp := subSpec("sub", sub)
	sp.Restart = child.Transient
	root := mustNew(t, "root", []child.Spec{sp}, lenient,
		supervisor.WithHook(rootRec.Hook()), supervisor.WithClock(newClock()))
	startT(t, root)

	x.crash(t, errBoom)
	ev := waitEvent(t, rootRec, supervisor.ChildExited, "sub", 1)
	if !errors.Is(ev.Err, escalation.ErrExceeded) || !errors.Is(ev.Err, errBoom) {
		t.Errorf("parent's child_exited Err = %v, want it to match ErrExceeded and boom", ev.Err)
	}
	if !ev.Restarted {
		t.Fatalf("transient nested supervisor that gave up: Restarted false, want true")
	}
	waitEvent(t, rootRec, supervisor.ChildStarted, "sub", 2)
	waitEvent(t, subRec, supervisor.IntensityExceeded, "x", 1)
	wantStates(t, root, "sub=running")
	wantStates(t, sub, "x=running")
	if x.incarnations() != 2 {
		t.Errorf("x started %d times, want 2", x.incarnations())
	}
}

// a8 escalation (arbor's decision): giving up is abnormal whatever the exit
// that triggered it, so a permanent child of the nested supervisor that keeps
// ending with child.Shutdownf still escalates as an abnormal exit, and the
// transient parent entry restarts the nested supervisor.
func TestNestedGiveUpAfterShutdownExitIsAbnormal(t *testing.T) {
	x := newProbe("x", nil)
	rootRec := supervisortest.NewRecorder()
	sub := mustNew(t, "sub", []child.Spec{pspec(x)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithClock(newClock()))
	sp := subSpec("sub", sub)
	sp.Restart = child.Transient
	root := mustNew(t, "root", []child.Spec{sp}, lenient,
		supervisor.WithHook(rootRec.Hook()), supervisor.WithClock(newClock()))
	startT(t, root)

	x.crash(t, child.Shutdownf("done for now"))
	ev := waitEvent(t, rootRec, supervisor.ChildExited, "sub", 1)
	if !errors.Is(ev.Err, escalation.ErrExceeded) {
		t.Errorf("parent's child_exited Err = %v, want it to match ErrExceeded", ev.Err)
	}
	if !ev.Restarted {
		t.Fatalf("transient nested supervisor that gave up: Restarted false, want true (Err %v)", ev.Err)
	}
	waitEvent(t, rootRec, supervisor.ChildStarted, "sub", 2)
	wantStates(t, root, "sub=running")
}

// a8, nesting: when the parent stops, the nested supervisor stops its
// children in reverse order before the parent stops its earlier siblings.
func TestNestedChildrenStopBeforeParentsEarlierSiblings(t *testing.T) {
	j := &journal{}
	a, x, y, b := newProbe("a", j), newProbe("x", j), newProbe("y", j), newProbe("b", j)
	sub := mustNew(t, "sub", []child.Spec{pspec(x), pspec(y)}, supervisor.WithClock(newClock()))
	root := mustNew(t, "root", []child.Spec{pspec(a), subSpec("sub", sub), pspec(b)}, supervisor.WithClock(newClock()))
	startT(t, root)
	wantJournal(t, j, "start a", "start x", "start y", "start b")
	j.reset()
	if err := stop(t, root); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wantJournal(t, j, "stop b", "stop y", "stop x", "stop a")
	if _, err := sub.Children(testCtx(t)); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Errorf("nested supervisor after the parent stopped: Children = %v, want ErrNotRunning", err)
	}
}

// a8, defaults: a nested supervisor's own children are bounded by the
// budget its parent gives it: a child with a 1 h budget inside a nested
// supervisor given 2 s must be done by the parent's deadline.
func TestNestedShutdownBoundedByParentBudget(t *testing.T) {
	clock := newClock()
	deadlines := make(chan time.Time, 1)
	c := child.Func(func(ctx context.Context) error {
		<-ctx.Done()
		d, _ := child.StopDeadline(ctx)
		deadlines <- d
		return ctx.Err()
	})
	sub := mustNew(t, "sub", []child.Spec{{ID: "c", Service: c, Shutdown: time.Hour}}, supervisor.WithClock(clock))
	sp := subSpec("sub", sub)
	sp.Shutdown = 2 * time.Second
	root := mustNew(t, "root", []child.Spec{sp}, supervisor.WithClock(clock))
	startT(t, root)
	if err := stop(t, root); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d, want := recv(t, deadlines, "c's stop deadline"), t0.Add(2*time.Second); !d.Equal(want) {
		t.Errorf("nested child's StopDeadline = %v, want the parent's budget end %v", d, want)
	}
}
