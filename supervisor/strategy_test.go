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

// fourProbes returns probes a, b, c, d sharing j, and their specs.
func fourProbes(j *journal) (a, b, c, d *probe, specs []child.Spec) {
	a, b, c, d = newProbe("a", j), newProbe("b", j), newProbe("c", j), newProbe("d", j)
	return a, b, c, d, []child.Spec{pspec(a), pspec(b), pspec(c), pspec(d)}
}

// a5: one_for_one restarts only the child that exited, in its place.
func TestOneForOneRestartsOnlyTheFailedChild(t *testing.T) {
	j := &journal{}
	_, b, _, _, specs := fourProbes(j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", specs, lenient, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "b", 2)
	wantJournal(t, j, "exit b", "start b")
	infos := wantStates(t, s, "a=running", "b=running", "c=running", "d=running")
	for _, c := range infos {
		want := 0
		if c.ID == "b" {
			want = 1
		}
		if c.Restarts != want {
			t.Errorf("%s: Restarts %d, want %d", c.ID, c.Restarts, want)
		}
	}
}

// a5: one_for_all, b of a,b,c,d crashing: the others are stopped in reverse
// start order (d, c, a), then all are started in declared order.
func TestOneForAllStopsOthersInReverseThenStartsAll(t *testing.T) {
	j := &journal{}
	_, b, _, _, specs := fourProbes(j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", specs, lenient, supervisor.WithStrategy(strategy.OneForAll),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "d", 2)
	wantJournal(t, j, "exit b", "stop d", "stop c", "stop a", "start a", "start b", "start c", "start d")
	wantStates(t, s, "a=running", "b=running", "c=running", "d=running")
}

// a5: rest_for_one, b of a,b,c,d crashing: d and c are stopped, then b, c, d
// started in order; a is not touched.
func TestRestForOneRestartsTheRest(t *testing.T) {
	j := &journal{}
	a, b, _, _, specs := fourProbes(j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", specs, lenient, supervisor.WithStrategy(strategy.RestForOne),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	j.reset()
	b.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "d", 2)
	wantJournal(t, j, "exit b", "stop d", "stop c", "start b", "start c", "start d")
	infos := wantStates(t, s, "a=running", "b=running", "c=running", "d=running")
	if find(t, infos, "a").Restarts != 0 || a.incarnations() != 1 {
		t.Errorf("a was restarted")
	}
}

// a5, a6: a group restart counts once toward intensity however many children
// it restarts: with MaxRestarts 1 the first group restart succeeds and the
// second crash in the window gives up.
func TestGroupRestartCountsOnce(t *testing.T) {
	for _, strat := range []strategy.Strategy{strategy.OneForAll, strategy.RestForOne} {
		t.Run(strat.String(), func(t *testing.T) {
			j := &journal{}
			a, b, _, _, specs := fourProbes(j)
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", specs, supervisor.WithStrategy(strat),
				supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1, Period: time.Hour}),
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			a.crash(t, errBoom) // restarts all four under both strategies
			waitEvent(t, rec, supervisor.ChildStarted, "d", 2)
			wantStates(t, s, "a=running", "b=running", "c=running", "d=running")
			if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
				t.Fatalf("gave up after one group restart")
			}

			b.crash(t, errBoom)
			err := waitSup(t, s)
			var gu *supervisor.GiveUpError
			if !errors.As(err, &gu) || gu.Child != "b" {
				t.Fatalf("second crash: Serve returned %v, want a *GiveUpError for b", err)
			}
		})
	}
}

// a5: a temporary child that a group restart terminates is dropped: it is not
// restarted and its spec is deleted.
func TestGroupRestartDropsTemporaryBystander(t *testing.T) {
	cases := []struct {
		strat   strategy.Strategy
		crashed string
		order   []string // declared order; "tmp" is temporary
		journal []string
		after   []string
	}{
		{strategy.OneForAll, "c", []string{"a", "tmp", "c"},
			[]string{"exit c", "stop tmp", "stop a", "start a", "start c"},
			[]string{"a=running", "c=running"}},
		{strategy.RestForOne, "b", []string{"a", "b", "tmp", "c"},
			[]string{"exit b", "stop c", "stop tmp", "start b", "start c"},
			[]string{"a=running", "b=running", "c=running"}},
	}
	for _, tc := range cases {
		t.Run(tc.strat.String(), func(t *testing.T) {
			j := &journal{}
			probes := map[string]*probe{}
			var specs []child.Spec
			for _, id := range tc.order {
				p := newProbe(id, j)
				probes[id] = p
				sp := pspec(p)
				if id == "tmp" {
					sp.Restart = child.Temporary
				}
				specs = append(specs, sp)
			}
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", specs, lenient, supervisor.WithStrategy(tc.strat),
				supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			j.reset()
			probes[tc.crashed].crash(t, errBoom)
			waitEvent(t, rec, supervisor.ChildStarted, "c", 2)
			wantJournal(t, j, tc.journal...)
			wantStates(t, s, tc.after...)
			if _, err := s.ChildSpec(testCtx(t), "tmp"); !errors.Is(err, supervisor.ErrNotFound) {
				t.Errorf("ChildSpec(tmp) = %v, want ErrNotFound", err)
			}
		})
	}
}

// a5, a14.3: a group restart also starts children that were not running: one
// stopped with TerminateChild and a transient one that had ended normally.
func TestGroupRestartRevivesStoppedChildren(t *testing.T) {
	cases := []struct {
		strat   strategy.Strategy
		crashed string
	}{
		{strategy.OneForAll, "c"},  // x and tr are before the crashed child
		{strategy.RestForOne, "a"}, // x and tr are after it
	}
	for _, tc := range cases {
		t.Run(tc.strat.String(), func(t *testing.T) {
			j := &journal{}
			a, x, tr, c := newProbe("a", j), newProbe("x", j), newProbe("tr", j), newProbe("c", j)
			trSpec := pspec(tr)
			trSpec.Restart = child.Transient
			probes := map[string]*probe{"a": a, "c": c}
			rec := supervisortest.NewRecorder()
			s := mustNew(t, "root", []child.Spec{pspec(a), pspec(x), trSpec, pspec(c)}, lenient,
				supervisor.WithStrategy(tc.strat), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
			startT(t, s)
			if err := s.TerminateChild(testCtx(t), "x"); err != nil {
				t.Fatalf("TerminateChild(x): %v", err)
			}
			tr.crash(t, nil)
			waitEvent(t, rec, supervisor.ChildExited, "tr", 1)
			wantStates(t, s, "a=running", "x=stopped", "tr=stopped", "c=running")

			j.reset()
			probes[tc.crashed].crash(t, errBoom)
			waitEvent(t, rec, supervisor.ChildStarted, "c", 2)
			wantStates(t, s, "a=running", "x=running", "tr=running", "c=running")
			got := j.get()
			for _, line := range []string{"start x", "start tr"} {
				if !slices.Contains(got, line) {
					t.Errorf("journal %q lacks %q", got, line)
				}
			}
		})
	}
}
