package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Live reconfiguration: removed children stop in reverse order, changed ones
// restart, added ones start at their declared position, unchanged ones are
// untouched; Apply returns once that is done and reports it.
func TestApplyReconfiguresRunningTree(t *testing.T) {
	j := &journal{}
	a, b, c, d := newProbe("a", j), newProbe("b", j), newProbe("c", j), newProbe("d", j)
	sup := mustNew(t, "root", []child.Spec{pspec(a), pspec(b), pspec(c)})
	startT(t, sup)
	j.reset()
	bChanged := pspec(b)
	bChanged.Restart = child.Transient
	cfg := sup.Config()
	cfg.Children = []child.Spec{pspec(a), bChanged, pspec(d)}
	cfg.Strategy = strategy.RestForOne
	ch, err := sup.Apply(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantJournal(t, j, "stop c", "stop b", "start b", "start d")
	if !slices.Equal(ch.Unchanged, []string{"a"}) || !slices.Equal(ch.Changed, []string{"b"}) ||
		!slices.Equal(ch.Added, []string{"d"}) || !slices.Equal(ch.Removed, []string{"c"}) || !ch.Flags || len(ch.Failed) != 0 {
		t.Fatalf("changes = %+v", ch)
	}
	wantStates(t, sup, "a=running", "b=running", "d=running")
	if sup.Strategy() != strategy.RestForOne {
		t.Fatalf("strategy = %v", sup.Strategy())
	}
	if sp, _ := sup.ChildSpec(testCtx(t), "b"); sp.Restart != child.Transient {
		t.Fatalf("b's spec not replaced: %+v", sp)
	}
	// The new configuration is what the next Serve starts from.
	if got := sup.Config().Children; len(got) != 3 || got[2].ID != "d" {
		t.Fatalf("Config after Apply = %v", got)
	}
}

// An invalid configuration is rejected whole and the running tree is not touched.
func TestApplyRejectsInvalidConfig(t *testing.T) {
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	sup := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)})
	startT(t, sup)
	j.reset()
	for name, cfg := range map[string]supervisor.Config{
		"duplicate": {Flags: supervisor.Flags{Intensity: escalation.Default}, Children: []child.Spec{pspec(a), pspec(a)}},
		"bad spec":  {Flags: supervisor.Flags{Intensity: escalation.Default}, Children: []child.Spec{{ID: "x"}}},
		"intensity": {Flags: supervisor.Flags{Intensity: escalation.Intensity{MaxRestarts: -1, Period: time.Second}}, Children: []child.Spec{pspec(a)}},
		"strategy":  {Flags: supervisor.Flags{Strategy: strategy.SimpleOneForOne, Intensity: escalation.Default}},
	} {
		if _, err := sup.Apply(testCtx(t), cfg); err == nil {
			t.Errorf("%s: Apply = nil, want an error", name)
		}
	}
	wantJournal(t, j)
	wantStates(t, sup, "a=running", "b=running")
	if _, err := sup.Apply(testCtx(t), supervisor.Config{Flags: supervisor.Flags{Intensity: escalation.Default}, Children: []child.Spec{pspec(a), pspec(a)}}); !errors.Is(err, supervisor.ErrDuplicateID) {
		t.Errorf("duplicate: %v, want ErrDuplicateID", err)
	}
}

// New flags take effect at once: a lower intensity makes the next crash fatal.
func TestApplyNewIntensity(t *testing.T) {
	a := newProbe("a", nil)
	sup := mustNew(t, "root", []child.Spec{pspec(a)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}), supervisor.WithClock(newClock()))
	startT(t, sup)
	cfg := sup.Config()
	cfg.Intensity = escalation.Intensity{MaxRestarts: 0, Period: time.Hour}
	if _, err := sup.Apply(testCtx(t), cfg); err != nil {
		t.Fatal(err)
	}
	a.crash(t, errBoom)
	if err := waitSup(t, sup); !errors.Is(err, escalation.ErrExceeded) {
		t.Fatalf("Serve = %v, want ErrExceeded", err)
	}
}

// Apply on a supervisor that is not serving sets what the next Serve starts.
func TestApplyWhenNotServing(t *testing.T) {
	j := &journal{}
	a, b := newProbe("a", j), newProbe("b", j)
	sup := mustNew(t, "root", []child.Spec{pspec(a)})
	cfg := sup.Config()
	cfg.Children = append(cfg.Children, pspec(b))
	ch, err := sup.Apply(testCtx(t), cfg)
	if err != nil || !slices.Equal(ch.Added, []string{"b"}) {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	startT(t, sup)
	wantJournal(t, j, "start a", "start b")
}

// A start that fails during Apply is reported, and the child kept, not running.
func TestApplyReportsFailedStart(t *testing.T) {
	a, bad := newProbe("a", nil), newProbe("bad", nil)
	bad.onStart = func(_ context.Context, _ int) error { return errStartFail }
	sup := mustNew(t, "root", []child.Spec{pspec(a)})
	startT(t, sup)
	cfg := sup.Config()
	cfg.Children = append(cfg.Children, pspec(bad))
	ch, err := sup.Apply(testCtx(t), cfg)
	if err != nil || len(ch.Failed) != 1 || !errors.Is(ch.Failed[0], errStartFail) || !errors.Is(ch.Failed[0], supervisor.ErrStartFailed) {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	wantStates(t, sup, "a=running", "bad=stopped")
}

// An Apply racing the beginning of a Serve is never lost:
// either the Serve starts from the new configuration, or the Apply reaches
// the running Serve. Whether a Serve runs is decided under the lock that
// begins one.
func TestApplyRacingServeIsNotLost(t *testing.T) {
	for i := range 300 {
		a, b := newProbe("a", nil), newProbe("b", nil)
		sup := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()))
		cfg := sup.Config()
		cfg.Children = append(cfg.Children, pspec(b))
		applied := make(chan error, 1)
		// Ends when Apply returns: at once, or once the Serve below takes it.
		go func() { _, err := sup.Apply(testCtx(t), cfg); applied <- err }()
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		// Ends when ctx is cancelled below.
		go func() { served <- sup.Serve(ctx) }()
		if err := recv(t, applied, "Apply"); err != nil {
			t.Fatalf("iteration %d: Apply = %v", i, err)
		}
		recv(t, sup.Ready(), "Ready")
		infos, err := sup.Children(testCtx(t))
		cancel()
		if serr := recv(t, served, "Serve"); serr != nil {
			t.Fatal(serr)
		}
		if err != nil || len(infos) != 2 {
			t.Fatalf("iteration %d: running children %v (%v), want a and b: the Apply was lost", i, states(infos), err)
		}
	}
}
