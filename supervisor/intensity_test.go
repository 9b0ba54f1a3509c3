package supervisor_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// wantGiveUp checks that err is the *GiveUpError of a supervisor that gave up
// because of child id's exit with reason.
func wantGiveUp(t *testing.T, err error, id string, reason error) *supervisor.GiveUpError {
	t.Helper()
	var gu *supervisor.GiveUpError
	if !errors.As(err, &gu) {
		t.Fatalf("Serve returned %v, want a *GiveUpError", err)
	}
	if gu.Child != id {
		t.Errorf("GiveUpError names child %q, want %q", gu.Child, id)
	}
	if !errors.Is(err, escalation.ErrExceeded) {
		t.Errorf("Serve returned %v, want it to match escalation.ErrExceeded", err)
	}
	if !errors.Is(err, reason) {
		t.Errorf("Serve returned %v, want it to wrap the child's reason %v", err, reason)
	}
	return gu
}

// a6, a14.1: MaxRestarts 0 means never restart: the first exit that needs a
// restart makes Serve return a *GiveUpError, with no restart attempt.
func TestIntensityZeroGivesUpOnFirstRestart(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	a.crash(t, errBoom)
	wantGiveUp(t, waitSup(t, s), "a", errBoom)
	if n := a.incarnations(); n != 1 {
		t.Errorf("a started %d times, want 1: no restart attempt", n)
	}
}

// a6: with the defaults (1 in 5 s) the second crash within the window gives
// up.
func TestDefaultIntensityGivesUpOnSecondCrashInWindow(t *testing.T) {
	clock := newClock()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	clock.Advance(4 * time.Second)
	crash2 := errors.New("boom again")
	a.crash(t, crash2)
	gu := wantGiveUp(t, waitSup(t, s), "a", crash2)
	if gu.Intensity != escalation.Default {
		t.Errorf("GiveUpError.Intensity = %v, want the default %v", gu.Intensity, escalation.Default)
	}
	if a.incarnations() != 2 {
		t.Errorf("a started %d times, want 2", a.incarnations())
	}
}

// a6: crashes spaced more than the period apart never give up.
func TestCrashesSpacedBeyondPeriodNeverGiveUp(t *testing.T) {
	clock := newClock()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
	startT(t, s)
	for i := 1; i <= 5; i++ {
		a.crash(t, errBoom)
		waitEvent(t, rec, supervisor.ChildStarted, "a", i+1)
		clock.Advance(6 * time.Second)
	}
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v, want nil", err)
	}
	if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
		t.Fatalf("%d intensity_exceeded events", n)
	}
}

// a6 (arbor's decision), a14.1: the window is exact and inclusive: a restart
// exactly Period old still counts, one a nanosecond older does not.
func TestIntensityBoundaryIsInclusive(t *testing.T) {
	cases := []struct {
		name    string
		advance time.Duration
		giveUp  bool
	}{
		{"exactly period old counts", 5 * time.Second, true},
		{"older than period is forgotten", 5*time.Second + time.Nanosecond, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			a := newProbe("a", nil)
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{pspec(a)},
				supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1, Period: 5 * time.Second}),
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(clock))
			startT(t, s)
			a.crash(t, errBoom)
			waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
			clock.Advance(tc.advance)
			a.crash(t, errBoom)
			if tc.giveUp {
				wantGiveUp(t, waitSup(t, s), "a", errBoom)
				return
			}
			waitEvent(t, rec, supervisor.ChildStarted, "a", 3)
			if err := stop(t, s); err != nil {
				t.Fatalf("Stop: %v, want nil", err)
			}
		})
	}
}

// a6, a12: on giving up, the supervisor makes no restart attempt and stops the
// remaining children in reverse start order; the events come in OTP's order:
// child_exited, intensity_exceeded, then the stops.
func TestGiveUpStopsChildrenInReverseOrder(t *testing.T) {
	j := &journal{}
	_, b, _, _, specs := fourProbes(j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", specs,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	b.crash(t, errBoom)
	err := waitSup(t, s)
	wantGiveUp(t, err, "b", errBoom)
	wantJournal(t, j, "exit b", "stop d", "stop c", "stop a")

	last := waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if !errors.Is(last.Err, escalation.ErrExceeded) {
		t.Errorf("supervisor_stopped Err = %v, want the give-up error", last.Err)
	}
	got := kinds(after(rec.Events(), supervisor.SupervisorReady))
	want := []string{"child_exited b", "intensity_exceeded b", "child_stopped d", "child_stopped c",
		"child_stopped a", "supervisor_stopped"}
	if !slices.Equal(got, want) {
		t.Fatalf("events after ready\n got  %q\n want %q", got, want)
	}
}
