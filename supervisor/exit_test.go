package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// lenient is an intensity that never gives up in these tests.
var lenient = supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 100, Period: time.Hour})

// explode panics with v; it is a named function so the stack can be checked.
//
//go:noinline
func explode(v any) { panic(v) }

// panicOnce is a child whose first incarnation panics with value once the test
// sends on trigger; later incarnations run until cancelled.
type panicOnce struct {
	value   any
	trigger chan struct{}
	first   bool
}

func (p *panicOnce) Serve(ctx context.Context) error {
	child.Ready(ctx)
	if !p.first {
		p.first = true // incarnations run one at a time
		select {
		case <-p.trigger:
			explode(p.value)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// Panics (arbor's decision): a panic in a child is recovered and reported as
// a *child.PanicError carrying the value and a stack that names the panicking
// function; it is an abnormal exit, and the supervisor survives and restarts
// the child.
func TestPanicBecomesPanicError(t *testing.T) {
	p := &panicOnce{value: "kaboom", trigger: make(chan struct{})}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "p", Service: p, AwaitReady: true}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	p.trigger <- struct{}{}

	ev := waitEvent(t, rec, supervisor.ChildExited, "p", 1)
	var pe *child.PanicError
	if !errors.As(ev.Err, &pe) {
		t.Fatalf("child_exited Err = %v (%T), want a *child.PanicError", ev.Err, ev.Err)
	}
	if pe.Value != "kaboom" {
		t.Errorf("panic value %v, want kaboom", pe.Value)
	}
	if st := pe.Stack(); !strings.Contains(st, "supervisor_test.explode") {
		t.Errorf("panic stack does not name the panicking function:\n%s", st)
	}
	if !ev.Restarted {
		t.Errorf("child_exited for a panic: Restarted false, want true")
	}
	waitEvent(t, rec, supervisor.ChildStarted, "p", 2)
	if got := find(t, wantStates(t, s, "p=running"), "p").Restarts; got != 1 {
		t.Errorf("Restarts = %d, want 1", got)
	}
}

// Panics, a4: a panic is abnormal even when its value wraps child.ErrShutdown,
// so a transient child that panics is restarted.
func TestPanicWithShutdownValueIsAbnormal(t *testing.T) {
	p := &panicOnce{value: child.Shutdownf("not really"), trigger: make(chan struct{})}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "p", Service: p, AwaitReady: true, Restart: child.Transient}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	p.trigger <- struct{}{}
	ev := waitEvent(t, rec, supervisor.ChildExited, "p", 1)
	if !ev.Restarted {
		t.Fatalf("transient child that panicked: Restarted false, want true (err %v)", ev.Err)
	}
	waitEvent(t, rec, supervisor.ChildStarted, "p", 2)
}

// Panics: a child calling runtime.Goexit exits with child.ErrGoexit, an
// abnormal exit; it is restarted.
func TestGoexitIsReported(t *testing.T) {
	trigger := make(chan struct{})
	first := true
	g := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		if first {
			first = false
			select {
			case <-trigger:
				runtime.Goexit()
			case <-ctx.Done():
			}
			return ctx.Err()
		}
		<-ctx.Done()
		return ctx.Err()
	})
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "g", Service: g, AwaitReady: true, Restart: child.Transient}},
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	trigger <- struct{}{}
	ev := waitEvent(t, rec, supervisor.ChildExited, "g", 1)
	if !errors.Is(ev.Err, child.ErrGoexit) {
		t.Fatalf("child_exited Err = %v, want child.ErrGoexit", ev.Err)
	}
	if !ev.Restarted {
		t.Fatalf("Goexit: Restarted false, want true")
	}
	waitEvent(t, rec, supervisor.ChildStarted, "g", 2)
}

// a4, a14.7: a permanent child is restarted after every exit, a nil return
// included, and the exit is reported as child_terminated.
func TestPermanentRestartedAfterNormalExit(t *testing.T) {
	p := newProbe("p", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(p)}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	p.crash(t, nil)
	ev := waitEvent(t, rec, supervisor.ChildExited, "p", 1)
	if ev.Err != nil || !ev.Restarted {
		t.Fatalf("child_exited: Err %v, Restarted %v; want nil, true", ev.Err, ev.Restarted)
	}
	if c := ev.Context(); c != "child_terminated" {
		t.Errorf("report context %q, want child_terminated", c)
	}
	waitEvent(t, rec, supervisor.ChildStarted, "p", 2)
	wantStates(t, s, "p=running")
}

// a4: a transient child that exits normally (nil, child.ErrShutdown, or
// child.Shutdownf) is not restarted; its spec stays, not running, and
// RestartChild brings it back.
func TestTransientNotRestartedAfterNormalExit(t *testing.T) {
	for name, reason := range map[string]error{
		"nil":       nil,
		"shutdown":  child.ErrShutdown,
		"shutdownf": child.Shutdownf("drained %d jobs", 3),
	} {
		t.Run(name, func(t *testing.T) {
			tr, other := newProbe("tr", nil), newProbe("other", nil)
			trSpec := pspec(tr)
			trSpec.Restart = child.Transient
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{trSpec, pspec(other)},
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			tr.crash(t, reason)
			ev := waitEvent(t, rec, supervisor.ChildExited, "tr", 1)
			if ev.Restarted {
				t.Fatalf("transient normal exit (%v): Restarted true", reason)
			}
			if c := ev.Context(); c != "" {
				t.Errorf("transient normal exit reported with context %q, want no report", c)
			}
			infos := wantStates(t, s, "tr=stopped", "other=running")
			if last := find(t, infos, "tr").LastExit; !errors.Is(last, reason) {
				t.Errorf("LastExit = %v, want %v", last, reason)
			}
			if tr.incarnations() != 1 {
				t.Fatalf("tr started %d times, want 1", tr.incarnations())
			}
			if err := s.RestartChild(testCtx(t), "tr"); err != nil {
				t.Fatalf("RestartChild(tr): %v", err)
			}
			wantStates(t, s, "tr=running", "other=running")
		})
	}
}

// a4: a transient child that crashes is restarted.
func TestTransientRestartedAfterCrash(t *testing.T) {
	tr := newProbe("tr", nil)
	sp := pspec(tr)
	sp.Restart = child.Transient
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{sp}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	tr.crash(t, errBoom)
	ev := waitEvent(t, rec, supervisor.ChildExited, "tr", 1)
	if !ev.Restarted || !errors.Is(ev.Err, errBoom) {
		t.Fatalf("child_exited: Err %v, Restarted %v; want boom, true", ev.Err, ev.Restarted)
	}
	waitEvent(t, rec, supervisor.ChildStarted, "tr", 2)
	wantStates(t, s, "tr=running")
}

// a4: a temporary child is never restarted, whatever its exit, and its spec
// is deleted; only an abnormal exit is reported.
func TestTemporaryNeverRestarted(t *testing.T) {
	for name, reason := range map[string]error{"normal": nil, "crash": errBoom} {
		t.Run(name, func(t *testing.T) {
			tmp, other := newProbe("tmp", nil), newProbe("other", nil)
			sp := pspec(tmp)
			sp.Restart = child.Temporary
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{sp, pspec(other)},
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			tmp.crash(t, reason)
			ev := waitEvent(t, rec, supervisor.ChildExited, "tmp", 1)
			if ev.Restarted {
				t.Fatalf("temporary child: Restarted true")
			}
			wantReport := ""
			if reason != nil {
				wantReport = "child_terminated"
			}
			if c := ev.Context(); c != wantReport {
				t.Errorf("report context %q, want %q", c, wantReport)
			}
			wantStates(t, s, "other=running")
			if _, err := s.ChildSpec(testCtx(t), "tmp"); !errors.Is(err, supervisor.ErrNotFound) {
				t.Errorf("ChildSpec(tmp): %v, want ErrNotFound", err)
			}
			if tmp.incarnations() != 1 {
				t.Errorf("tmp started %d times, want 1", tmp.incarnations())
			}
		})
	}
}

// a4, a14.4: exits that need no restart (a transient child's normal exit, a
// temporary child's crash) are not counted toward intensity and touch no
// sibling, even under one_for_all with MaxRestarts 0.
func TestExitsWithoutRestartHaveNoEffect(t *testing.T) {
	for _, strat := range []strategy.Strategy{strategy.OneForAll, strategy.RestForOne} {
		t.Run(strat.String(), func(t *testing.T) {
			j := &journal{}
			tr, tmp, a, z := newProbe("tr", j), newProbe("tmp", j), newProbe("a", j), newProbe("z", j)
			trSpec, tmpSpec := pspec(tr), pspec(tmp)
			trSpec.Restart, tmpSpec.Restart = child.Transient, child.Temporary
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{trSpec, tmpSpec, pspec(a), pspec(z)},
				supervisor.WithStrategy(strat),
				supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			j.reset()
			tr.crash(t, nil)
			waitEvent(t, rec, supervisor.ChildExited, "tr", 1)
			tmp.crash(t, errBoom)
			waitEvent(t, rec, supervisor.ChildExited, "tmp", 1)

			infos := wantStates(t, s, "tr=stopped", "a=running", "z=running")
			for _, id := range []string{"a", "z"} {
				if n := find(t, infos, id).Restarts; n != 0 {
					t.Errorf("%s restarted %d times", id, n)
				}
			}
			wantJournal(t, j, "exit tr", "exit tmp")
			if err := stop(t, s); err != nil {
				t.Fatalf("Stop: %v, want nil: the exits must not have counted toward intensity", err)
			}
			if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
				t.Errorf("%d intensity_exceeded events", n)
			}
		})
	}
}

// a4, "why a child exited" (arbor's decision): context.Canceled returned by a
// child the supervisor did not cancel is an abnormal exit, so a transient child
// is restarted; the same error after the supervisor cancelled it is a clean
// stop.
func TestContextCanceledFromChildIsAbnormal(t *testing.T) {
	tr := newProbe("tr", nil)
	sp := pspec(tr)
	sp.Restart = child.Transient
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{sp}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)

	tr.crash(t, context.Canceled)
	ev := waitEvent(t, rec, supervisor.ChildExited, "tr", 1)
	if !ev.Restarted || !errors.Is(ev.Err, context.Canceled) {
		t.Fatalf("child_exited: Err %v, Restarted %v; want context.Canceled, true", ev.Err, ev.Restarted)
	}
	waitEvent(t, rec, supervisor.ChildStarted, "tr", 2)

	// Cancelled by the supervisor: the probe returns ctx.Err() = context.Canceled.
	if err := s.TerminateChild(testCtx(t), "tr"); err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	stopped := waitEvent(t, rec, supervisor.ChildStopped, "tr", 1)
	if stopped.Err != nil {
		t.Errorf("child_stopped after TerminateChild: Err %v, want nil (a clean stop)", stopped.Err)
	}
	wantStates(t, s, "tr=stopped")
	if n := rec.Count(supervisor.ChildExited, "tr"); n != 1 {
		t.Errorf("%d child_exited events, want 1", n)
	}
}
