package supervisor_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

func significant(p *probe, r child.Restart) child.Spec {
	sp := pspec(p)
	sp.Restart, sp.Significant = r, true
	return sp
}

// a2, a9: significant only on transient/temporary children, and only with auto-shutdown.
func TestSignificantValidation(t *testing.T) {
	p := newProbe("s", nil)
	sp := significant(p, child.Permanent)
	if _, err := supervisor.New("root", []child.Spec{sp}, supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant)); !errors.Is(err, child.ErrInvalidSpec) {
		t.Fatalf("permanent significant: %v, want ErrInvalidSpec", err)
	}
	sp = significant(p, child.Transient)
	_, err := supervisor.New("root", []child.Spec{sp})
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "Significant" {
		t.Fatalf("significant without auto-shutdown: %v, want a SpecError on Significant", err)
	}
	if err := supervisor.CheckSpecs([]child.Spec{sp}, supervisor.WithAutoShutdown(supervisor.AutoShutdownAllSignificant)); err != nil {
		t.Fatalf("CheckSpecs with all_significant: %v", err)
	}
	if _, err := supervisor.New("root", nil, supervisor.WithAutoShutdown(supervisor.AutoShutdown(9))); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Fatalf("unknown auto-shutdown: %v, want ErrInvalidOption", err)
	}
}

// a9: any_significant: a significant temporary child's exit shuts the
// supervisor down, stopping the others in reverse order; Serve returns nil.
func TestAnySignificantShutsDown(t *testing.T) {
	j := &journal{}
	a, s1, b := newProbe("a", j), newProbe("s", j), newProbe("b", j)
	rec := supervisortest.NewRecorder()
	sup := mustNew(t, "root", []child.Spec{pspec(a), significant(s1, child.Temporary), pspec(b)},
		supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant), supervisor.WithHook(rec.Hook()))
	startT(t, sup)
	s1.crash(t, errBoom) // a temporary significant child: any exit counts
	if err := waitSup(t, sup); err != nil {
		t.Fatalf("Serve = %v, want nil (auto-shutdown is a normal exit)", err)
	}
	wantJournal(t, j, "start a", "start s", "start b", "exit s", "stop b", "stop a")
	waitEvent(t, rec, supervisor.AutoShutdownTriggered, "s", 1)
}

// a9: a transient significant child's abnormal exit restarts it; its normal exit shuts down.
func TestTransientSignificant(t *testing.T) {
	s1 := newProbe("s", nil)
	sup := mustNew(t, "root", []child.Spec{significant(s1, child.Transient)},
		supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}), supervisor.WithClock(newClock()))
	startT(t, sup)
	s1.waitStart(t, 1)
	s1.crash(t, errBoom)
	s1.waitStart(t, 2)
	settle(t, sup)
	s1.crash(t, child.Shutdownf("job done"))
	if err := waitSup(t, sup); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
}

// a9: all_significant waits until no significant child runs; a significant
// child stopped through the API counts as not running, but terminating it
// never triggers auto-shutdown by itself.
func TestAllSignificant(t *testing.T) {
	s1, s2, s3 := newProbe("s1", nil), newProbe("s2", nil), newProbe("s3", nil)
	sup := mustNew(t, "root", []child.Spec{significant(s1, child.Transient), significant(s2, child.Temporary), significant(s3, child.Transient)},
		supervisor.WithAutoShutdown(supervisor.AutoShutdownAllSignificant))
	startT(t, sup)
	ctx := testCtx(t)
	if err := sup.TerminateChild(ctx, "s3"); err != nil {
		t.Fatal(err)
	}
	s1.crash(t, nil)
	settle(t, sup)
	if _, err := sup.Children(ctx); err != nil {
		t.Fatalf("supervisor stopped while s2 still runs: %v", err)
	}
	s2.crash(t, nil)
	if err := waitSup(t, sup); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
}

// a9: terminations by the API or by a group restart never trigger auto-shutdown.
func TestSignificantNotTriggeredByTerminations(t *testing.T) {
	a, s1 := newProbe("a", nil), newProbe("s", nil)
	sup := mustNew(t, "root", []child.Spec{pspec(a), significant(s1, child.Temporary)},
		supervisor.WithStrategy(strategy.OneForAll), supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}), supervisor.WithClock(newClock()))
	startT(t, sup)
	a.crash(t, errBoom) // the group restart stops s and drops it (temporary bystander)
	a.waitStart(t, 2)
	settle(t, sup)
	wantStates(t, sup, "a=running")
	s2 := newProbe("s2", nil)
	if err := sup.StartChild(testCtx(t), significant(s2, child.Transient)); err != nil {
		t.Fatal(err)
	}
	if err := sup.TerminateChild(testCtx(t), "s2"); err != nil {
		t.Fatal(err)
	}
	wantStates(t, sup, "a=running", "s2=stopped")
}

// a9: the cascade: a significant transient nested supervisor that shuts down
// exits normally, and its auto-shutdown parent shuts down in turn.
func TestSignificantCascade(t *testing.T) {
	j := &journal{}
	inner, other := newProbe("inner", j), newProbe("other", j)
	sub := mustNew(t, "sub", []child.Spec{significant(inner, child.Temporary)}, supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant))
	root := mustNew(t, "root", []child.Spec{
		pspec(other),
		{ID: "sub", Service: sub, Kind: child.KindSupervisor, Restart: child.Transient, Significant: true},
	}, supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant))
	startT(t, root)
	inner.crash(t, nil)
	if err := waitSup(t, root); err != nil {
		t.Fatalf("root Serve = %v, want nil", err)
	}
	if got := j.get(); !slices.Equal(got, []string{"start other", "start inner", "exit inner", "stop other"}) {
		t.Fatalf("journal %q", got)
	}
}
