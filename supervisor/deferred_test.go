package supervisor_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// An exit that arrives while the supervisor waits on another child's start
// is kept and handled once that start is over: the crashed child is
// restarted, exactly once.
func TestExitWhileStartingAnotherChild(t *testing.T) {
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	gate, open := newGate(t)
	blocked := make(chan struct{}, 1)
	b.onStart = func(ctx context.Context, _ int) error {
		blocked <- struct{}{}
		<-gate
		return nil
	}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}), supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	startT(t, s)
	added := make(chan error, 1)
	// Ends when StartChild returns, once the gate opens.
	go func() { added <- s.StartChild(testCtx(t), pspec(b)) }()
	recv(t, blocked, "b starting")
	a.crash(t, errBoom)
	// a's goroutine is gone once its exit is queued: the loop, waiting on b
	// until the gate opens, takes it first and defers it.
	waitGone(t, "root/a")
	open()
	if err := recv(t, added, "StartChild"); err != nil {
		t.Fatal(err)
	}
	a.waitStart(t, 2)
	settle(t, s)
	wantJournal(t, j, "start a", "start b", "exit a", "start a")
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2) // events arrive in order: every earlier one is in
	if n := rec.Count(supervisor.ChildExited, "a"); n != 1 {
		t.Fatalf("%d exits of a handled, want 1", n)
	}
}

// An exit of a sibling that arrives while a group restart is stopping
// another child is absorbed by the group restart: the sibling is started
// again once, with the group, and not restarted a second time.
func TestExitDuringGroupStop(t *testing.T) {
	clock := newClock()
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	c := newStubborn(t, "c", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{
		pspec(a), pspec(b),
		{ID: "c", Service: c, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: time.Minute},
	}, supervisor.WithStrategy(strategy.OneForAll), supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}))
	startT(t, s)
	b.crash(t, errBoom)
	recv(t, c.cancelled, "c cancelled") // the group restart waits on c
	a.crash(t, errBoom)                 // a ends by itself meanwhile
	c.free()
	a.waitStart(t, 2)
	waitEvent(t, rec, supervisor.ChildStarted, "c", 2)
	settle(t, s)
	wantStates(t, s, "a=running", "b=running", "c=running")
	if a.incarnations() != 2 || b.incarnations() != 2 {
		t.Fatalf("incarnations a=%d b=%d, want 2 each", a.incarnations(), b.incarnations())
	}
	if got := rec.Count(supervisor.ChildExited, ""); got != 1 {
		t.Fatalf("%d exits handled as exits, want 1 (b's; a's was absorbed by the group stop)", got)
	}
}

// Restarts waiting for their backoff delays fire in the order they are due.
func TestPendingRestartsFireInDueOrder(t *testing.T) {
	clock := newClock()
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	// Policies are built per child in start order: a waits 3 s, b 1 s.
	delays := []time.Duration{3 * time.Second, time.Second}
	built := 0
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)}, supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}),
		supervisor.WithBackoff(func() supervisor.BackOff { built++; return &perChild{d: delays[(built-1)%2]} }))
	startT(t, s)
	j.reset()
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "a", 1)
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.RestartScheduled, "b", 1)
	clock.Advance(3 * time.Second)
	a.waitStart(t, 2)
	settle(t, s)
	wantJournal(t, j, "exit a", "exit b", "start b", "start a")
}

// perChild is a constant backoff policy with its own delay.
type perChild struct{ d time.Duration }

func (p *perChild) NextBackOff() time.Duration { return p.d }
func (p *perChild) Reset()                     {}

// The text forms of the supervisor's enums round-trip, as config files need.
func TestEnumsText(t *testing.T) {
	for _, v := range []supervisor.ChildState{supervisor.StateRunning, supervisor.StateRestarting, supervisor.StateStopped, supervisor.StateStarting, supervisor.StateStopping} {
		b, err := json.Marshal(v)
		var back supervisor.ChildState
		if err != nil || json.Unmarshal(b, &back) != nil || back != v {
			t.Errorf("ChildState %v: %s, %v, back %v", v, b, err, back)
		}
	}
	for _, v := range []supervisor.AutoShutdown{supervisor.AutoShutdownNever, supervisor.AutoShutdownAnySignificant, supervisor.AutoShutdownAllSignificant} {
		b, err := json.Marshal(v)
		var back supervisor.AutoShutdown
		if err != nil || json.Unmarshal(b, &back) != nil || back != v {
			t.Errorf("AutoShutdown %v: %s, %v, back %v", v, b, err, back)
		}
	}
	for k := supervisor.ChildStarted; k <= supervisor.SupervisorStopped; k++ {
		b, err := k.MarshalText()
		var back supervisor.EventKind
		if err != nil || back.UnmarshalText(b) != nil || back != k {
			t.Errorf("EventKind %v: %s, %v, back %v", k, b, err, back)
		}
	}
	var st supervisor.ChildState
	var as supervisor.AutoShutdown
	var ek supervisor.EventKind
	if st.UnmarshalText([]byte("dead")) == nil || as.UnmarshalText([]byte("some")) == nil || ek.UnmarshalText([]byte("x")) == nil {
		t.Error("unknown names were accepted")
	}
	if _, err := supervisor.ChildState(99).MarshalText(); err == nil {
		t.Error("ChildState(99) marshalled")
	}
}

// Tree walks nested supervisors, static and added at run time.
func TestTreeIncludesNestedSupervisors(t *testing.T) {
	inner := mustNew(t, "inner", []child.Spec{pspec(newProbe("leaf", nil))})
	added := mustNew(t, "added", []child.Spec{pspec(newProbe("leaf2", nil))})
	root := mustNew(t, "root", []child.Spec{{ID: "inner", Service: inner, Kind: child.KindSupervisor}})
	startT(t, root)
	if err := root.StartChild(testCtx(t), child.Spec{ID: "added", Service: added, Kind: child.KindSupervisor}); err != nil {
		t.Fatal(err)
	}
	tree, err := root.Tree(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !tree.Ready || tree.Path != "root" || len(tree.Subtrees) != 2 {
		t.Fatalf("tree = %+v", tree)
	}
	if sub := tree.Subtrees["added"]; sub == nil || sub.Path != "root/added" || sub.Children[0].Path != "root/added/leaf2" {
		t.Fatalf("added subtree = %+v", sub)
	}
	if sub := tree.Subtrees["inner"]; sub == nil || sub.Children[0].State != supervisor.StateRunning {
		t.Fatalf("inner subtree = %+v", sub)
	}
}
