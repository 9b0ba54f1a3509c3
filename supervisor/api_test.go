package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// a11: StartChild adds the child last in start order, so it is stopped first.
func TestStartChildGoesLastAndStopsFirst(t *testing.T) {
	j := &journal{}
	a, b, c := newProbe("a", j), newProbe("b", j), newProbe("c", j)
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)}, supervisor.WithClock(newClock()))
	startT(t, s)
	if err := s.StartChild(testCtx(t), pspec(c)); err != nil {
		t.Fatalf("StartChild(c): %v", err)
	}
	wantStates(t, s, "a=running", "b=running", "c=running")
	j.reset()
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wantJournal(t, j, "stop c", "stop b", "stop a")
}

// a11: StartChild's errors: ErrAlreadyStarted for a running ID,
// ErrAlreadyPresent for a kept one that is not running, child.ErrInvalidSpec
// for a bad spec, and a *StartError for a failed start, after which nothing
// is kept. A child that ignores its start is kept unless it is temporary.
func TestStartChildErrors(t *testing.T) {
	a := newProbe("a", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)

	if err := s.StartChild(ctx, pspec(newProbe("a", nil))); !errors.Is(err, supervisor.ErrAlreadyStarted) {
		t.Errorf("StartChild(running id) = %v, want ErrAlreadyStarted", err)
	}
	if err := s.TerminateChild(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartChild(ctx, pspec(newProbe("a", nil))); !errors.Is(err, supervisor.ErrAlreadyPresent) {
		t.Errorf("StartChild(stopped id) = %v, want ErrAlreadyPresent", err)
	}
	for name, sp := range map[string]child.Spec{
		"empty id":         {Service: newProbe("x", nil)},
		"nil service":      {ID: "x"},
		"bad shutdown":     {ID: "x", Service: newProbe("x", nil), Shutdown: -5},
		"bad restart type": {ID: "x", Service: newProbe("x", nil), Restart: 7},
	} {
		if err := s.StartChild(ctx, sp); !errors.Is(err, child.ErrInvalidSpec) {
			t.Errorf("StartChild(%s) = %v, want child.ErrInvalidSpec", name, err)
		}
	}

	bad := child.Spec{ID: "bad", AwaitReady: true, Service: child.Func(func(ctx context.Context) error { return errBoom })}
	err := s.StartChild(ctx, bad)
	var se *supervisor.StartError
	if !errors.As(err, &se) || se.Child != "bad" || !errors.Is(err, supervisor.ErrStartFailed) || !errors.Is(err, errBoom) {
		t.Fatalf("StartChild(failing) = %v, want a *StartError for bad wrapping boom", err)
	}
	wantStates(t, s, "a=stopped")
	if _, err := s.ChildSpec(ctx, "bad"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("ChildSpec(bad) after its failed start = %v, want ErrNotFound", err)
	}
	if err := s.StartChild(ctx, pspec(newProbe("bad", nil))); err != nil {
		t.Errorf("StartChild reusing the failed id: %v", err)
	}

	ignore := child.Func(func(ctx context.Context) error { return child.ErrIgnore })
	if err := s.StartChild(ctx, child.Spec{ID: "ign", Service: ignore, AwaitReady: true}); err != nil {
		t.Errorf("StartChild(ignoring) = %v, want nil", err)
	}
	if err := s.StartChild(ctx, child.Spec{ID: "tmp", Service: ignore, AwaitReady: true, Restart: child.Temporary}); err != nil {
		t.Errorf("StartChild(ignoring temporary) = %v, want nil", err)
	}
	wantStates(t, s, "a=stopped", "bad=running", "ign=stopped")
}

// a11, a14.8: TerminateChild is idempotent and keeps a permanent spec, not
// running; it deletes a temporary spec; an unknown ID is ErrNotFound.
func TestTerminateChild(t *testing.T) {
	j := &journal{}
	a, tmp := newProbe("a", j), newProbe("tmp", j)
	tmpSpec := pspec(tmp)
	tmpSpec.Restart = child.Temporary
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a), tmpSpec}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)
	for i := range 2 {
		if err := s.TerminateChild(ctx, "a"); err != nil {
			t.Fatalf("TerminateChild(a) #%d: %v", i+1, err)
		}
	}
	wantStates(t, s, "a=stopped", "tmp=running")
	if err := s.TerminateChild(ctx, "tmp"); err != nil {
		t.Fatalf("TerminateChild(tmp): %v", err)
	}
	wantStates(t, s, "a=stopped")
	if err := s.TerminateChild(ctx, "tmp"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("TerminateChild(deleted temporary) = %v, want ErrNotFound", err)
	}
	if err := s.TerminateChild(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("TerminateChild(unknown) = %v, want ErrNotFound", err)
	}
	if n := rec.Count(supervisor.ChildExited, ""); n != 0 {
		t.Errorf("%d child_exited events: a terminated child did not exit by itself", n)
	}
	if a.incarnations() != 1 {
		t.Errorf("a started %d times: terminated children are not restarted", a.incarnations())
	}
}

// a11, a6, a14.8: RestartChild restarts a stopped child and is not counted
// toward intensity: with MaxRestarts 0, any number of terminate/restart
// cycles never gives up. It returns ErrRunning for a running child and
// ErrNotFound for an unknown one; after a failed start the spec stays, not
// running.
func TestRestartChild(t *testing.T) {
	a := newProbe("a", nil)
	fail := false // read by a's next start; set only while a is stopped
	a.onStart = func(ctx context.Context, n int) error {
		if fail {
			return errStartFail
		}
		return nil
	}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)
	if err := s.RestartChild(ctx, "a"); !errors.Is(err, supervisor.ErrRunning) {
		t.Errorf("RestartChild(running) = %v, want ErrRunning", err)
	}
	if err := s.RestartChild(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("RestartChild(unknown) = %v, want ErrNotFound", err)
	}
	for i := range 10 {
		if err := s.TerminateChild(ctx, "a"); err != nil {
			t.Fatalf("TerminateChild #%d: %v", i, err)
		}
		if err := s.RestartChild(ctx, "a"); err != nil {
			t.Fatalf("RestartChild #%d: %v", i, err)
		}
	}
	wantStates(t, s, "a=running")
	if a.incarnations() != 11 {
		t.Errorf("a started %d times, want 11", a.incarnations())
	}

	if err := s.TerminateChild(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	fail = true
	err := s.RestartChild(ctx, "a")
	var se *supervisor.StartError
	if !errors.As(err, &se) || !errors.Is(err, errStartFail) {
		t.Fatalf("RestartChild(failing) = %v, want a *StartError wrapping the start's error", err)
	}
	wantStates(t, s, "a=stopped")
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v, want nil: RestartChild must not count toward intensity", err)
	}
	if n := rec.Count(supervisor.IntensityExceeded, ""); n != 0 {
		t.Errorf("%d intensity_exceeded events", n)
	}
}

// a11: DeleteChild removes a stopped child's spec; it returns ErrRunning for
// a running child and ErrNotFound for an unknown one.
func TestDeleteChild(t *testing.T) {
	a, b := newProbe("a", nil), newProbe("b", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)}, supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)
	if err := s.DeleteChild(ctx, "a"); !errors.Is(err, supervisor.ErrRunning) {
		t.Errorf("DeleteChild(running) = %v, want ErrRunning", err)
	}
	if err := s.DeleteChild(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("DeleteChild(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.TerminateChild(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChild(ctx, "a"); err != nil {
		t.Fatalf("DeleteChild(stopped) = %v", err)
	}
	wantStates(t, s, "b=running")
	if err := s.DeleteChild(ctx, "a"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("DeleteChild twice = %v, want ErrNotFound", err)
	}
	if err := s.RestartChild(ctx, "a"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("RestartChild(deleted) = %v, want ErrNotFound", err)
	}
	// The ID is free again.
	if err := s.StartChild(ctx, pspec(newProbe("a", nil))); err != nil {
		t.Errorf("StartChild(deleted id): %v", err)
	}
	wantStates(t, s, "b=running", "a=running")
}

// a11: Children lists the children in start order with their kind, restart
// type and state; CountChildren counts specs, active children, supervisors
// and workers (running or not).
func TestChildrenAndCountChildren(t *testing.T) {
	a, b, x := newProbe("a", nil), newProbe("b", nil), newProbe("x", nil)
	sub := mustNew(t, "sub", []child.Spec{pspec(x)}, supervisor.WithClock(newClock()))
	bSpec := pspec(b)
	bSpec.Restart = child.Transient
	s := mustNew(t, "root", []child.Spec{
		pspec(a), bSpec, {ID: "sub", Service: sub, Kind: child.KindSupervisor},
	}, supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)
	if err := s.TerminateChild(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	infos := wantStates(t, s, "a=running", "b=stopped", "sub=running")
	wantKinds := []child.Kind{child.KindWorker, child.KindWorker, child.KindSupervisor}
	wantRestart := []child.Restart{child.Permanent, child.Transient, child.Permanent}
	for i, c := range infos {
		if c.Kind != wantKinds[i] || c.Restart != wantRestart[i] {
			t.Errorf("%s: kind %v restart %v, want %v %v", c.ID, c.Kind, c.Restart, wantKinds[i], wantRestart[i])
		}
		if started := !c.Started.IsZero(); started != (c.State == supervisor.StateRunning) {
			t.Errorf("%s: Started %v with state %v", c.ID, c.Started, c.State)
		}
	}
	counts, err := s.CountChildren(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (supervisor.Counts{Specs: 3, Active: 2, Supervisors: 1, Workers: 2}); counts != want {
		t.Errorf("CountChildren = %+v, want %+v", counts, want)
	}
}

// a2, a11: ChildSpec returns the spec with every default filled in: a
// worker's shutdown is 5 s, a supervisor's is Infinity (and it is always
// awaited); an unknown ID is ErrNotFound.
func TestChildSpecFillsDefaults(t *testing.T) {
	sub := mustNew(t, "sub", nil)
	s := mustNew(t, "root", []child.Spec{
		{ID: "w", Service: newProbe("w", nil)},
		{ID: "sub", Service: sub, Kind: child.KindSupervisor},
	})
	startT(t, s)
	ctx := testCtx(t)
	w, err := s.ChildSpec(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if w.Shutdown != 5*time.Second || w.StartTimeout != child.DefaultStartTimeout ||
		w.Restart != child.Permanent || w.Kind != child.KindWorker || w.AwaitReady {
		t.Errorf("worker spec %+v: want permanent worker, shutdown 5s, start timeout %v, not awaited", w, child.DefaultStartTimeout)
	}
	sp, err := s.ChildSpec(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if sp.Shutdown != child.Infinity || sp.StartTimeout != child.Infinity || !sp.AwaitReady || sp.Kind != child.KindSupervisor {
		t.Errorf("supervisor spec %+v: want shutdown and start timeout Infinity, awaited", sp)
	}
	if err := s.StartChild(ctx, child.Spec{ID: "dyn", Service: newProbe("dyn", nil)}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.ChildSpec(ctx, "dyn"); err != nil || d.Shutdown != child.DefaultShutdown {
		t.Errorf("ChildSpec(dyn) = %+v, %v; want the default shutdown", d, err)
	}
	if _, err := s.ChildSpec(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("ChildSpec(unknown) = %v, want ErrNotFound", err)
	}
}

// a11: calls on a supervisor that is not serving, before Serve or after it
// returned, fail with ErrNotRunning (OTP's noproc).
func TestAPIWhenNotServing(t *testing.T) {
	a := newProbe("a", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithClock(newClock()))
	check := func(when string) {
		t.Helper()
		ctx := testCtx(t)
		_, err1 := s.Children(ctx)
		_, err2 := s.CountChildren(ctx)
		_, err3 := s.ChildSpec(ctx, "a")
		errs := []error{err1, err2, err3,
			s.StartChild(ctx, pspec(newProbe("b", nil))),
			s.TerminateChild(ctx, "a"), s.RestartChild(ctx, "a"), s.DeleteChild(ctx, "a")}
		for i, err := range errs {
			if !errors.Is(err, supervisor.ErrNotRunning) {
				t.Errorf("%s: call %d = %v, want ErrNotRunning", when, i, err)
			}
		}
	}
	check("before Serve")
	startT(t, s)
	if err := stop(t, s); err != nil {
		t.Fatal(err)
	}
	check("after Serve returned")
}

// a11: a running child can call its supervisor's API, here StartChild for a
// sibling and Children.
func TestAPIFromInsideChild(t *testing.T) {
	j := &journal{}
	worker := newProbe("worker", j)
	var s *supervisor.Supervisor
	type result struct {
		err   error
		infos []supervisor.ChildInfo
	}
	res := make(chan result, 1)
	spawner := child.Func(func(ctx context.Context) error {
		j.add("start spawner")
		child.Ready(ctx)
		err := s.StartChild(ctx, pspec(worker))
		infos, _ := s.Children(ctx)
		res <- result{err, infos}
		<-ctx.Done()
		j.add("stop spawner")
		return ctx.Err()
	})
	s = mustNew(t, "root", []child.Spec{{ID: "spawner", Service: spawner, AwaitReady: true}},
		supervisor.WithClock(newClock()))
	startT(t, s)
	r := recv(t, res, "the spawner's calls")
	if r.err != nil {
		t.Fatalf("StartChild from inside a child: %v", r.err)
	}
	if got := states(r.infos); !slices.Equal(got, []string{"spawner=running", "worker=running"}) {
		t.Fatalf("Children from inside a child: %v", got)
	}
	j.reset()
	if err := stop(t, s); err != nil {
		t.Fatal(err)
	}
	wantJournal(t, j, "stop worker", "stop spawner")
}

// a2: New rejects two specs with the same ID.
func TestNewRejectsDuplicateID(t *testing.T) {
	_, err := supervisor.New("root", []child.Spec{
		{ID: "a", Service: newProbe("a", nil)},
		{ID: "a", Service: newProbe("a", nil)},
	})
	if !errors.Is(err, supervisor.ErrDuplicateID) {
		t.Fatalf("New with a duplicate ID = %v, want ErrDuplicateID", err)
	}
	if err := supervisor.CheckSpecs([]child.Spec{{ID: "a", Service: newProbe("a", nil)}, {ID: "a", Service: newProbe("a", nil)}}); !errors.Is(err, supervisor.ErrDuplicateID) {
		t.Fatalf("CheckSpecs with a duplicate ID = %v, want ErrDuplicateID", err)
	}
}

// a2: New rejects an invalid spec with a *child.SpecError naming the field.
func TestNewRejectsInvalidSpec(t *testing.T) {
	for name, tc := range map[string]struct {
		spec  child.Spec
		field string
	}{
		"nil service":  {child.Spec{ID: "a"}, "Service"},
		"nil func":     {child.Spec{ID: "a", Service: child.Func(nil)}, "Service"},
		"empty id":     {child.Spec{Service: newProbe("a", nil)}, "ID"},
		"bad shutdown": {child.Spec{ID: "a", Service: newProbe("a", nil), Shutdown: -7}, "Shutdown"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := supervisor.New("root", []child.Spec{tc.spec})
			var se *child.SpecError
			if !errors.Is(err, child.ErrInvalidSpec) || !errors.As(err, &se) || se.Field != tc.field {
				t.Fatalf("New = %v, want a *child.SpecError for field %s", err, tc.field)
			}
		})
	}
}

// a1: New rejects invalid options with ErrInvalidOption.
func TestNewRejectsInvalidOptions(t *testing.T) {
	specs := []child.Spec{{ID: "a", Service: newProbe("a", nil)}}
	for name, opt := range map[string]supervisor.Option{
		"negative intensity": supervisor.WithIntensity(escalation.Intensity{MaxRestarts: -1, Period: time.Second}),
		"zero period":        supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1}),
		"nil logger":         supervisor.WithLogger((*zap.Logger)(nil)),
		"nil clock":          supervisor.WithClock(nil),
		"negative start":     supervisor.WithStartTimeout(-time.Second),
		"unknown strategy":   supervisor.WithStrategy(strategy.Strategy(42)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := supervisor.New("root", specs, opt); !errors.Is(err, supervisor.ErrInvalidOption) {
				t.Fatalf("New = %v, want ErrInvalidOption", err)
			}
		})
	}
	if _, err := supervisor.New("", specs); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("New with an empty name = %v, want ErrInvalidOption", err)
	}
}

// Serve (arbor): a second Serve or Start while one is in progress returns
// ErrAlreadyServing and leaves the first undisturbed.
func TestServeTwiceConcurrently(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	v := serveAsync(t, s)
	waitEvent(t, rec, supervisor.SupervisorReady, "", 1)
	if err := s.Serve(testCtx(t)); !errors.Is(err, supervisor.ErrAlreadyServing) {
		t.Fatalf("second Serve = %v, want ErrAlreadyServing", err)
	}
	if err := s.Start(testCtx(t)); !errors.Is(err, supervisor.ErrAlreadyServing) {
		t.Fatalf("Start while serving = %v, want ErrAlreadyServing", err)
	}
	wantStates(t, s, "a=running")
	v.cancel()
	if err := v.wait(t); err != nil {
		t.Fatalf("first Serve: %v", err)
	}
	if a.incarnations() != 1 {
		t.Errorf("a started %d times, want 1", a.incarnations())
	}
}

// Serve (arbor): Serve may be called again after it returned; it starts
// afresh from the specs given to New, so children added dynamically are gone.
func TestServeAgainAfterReturn(t *testing.T) {
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	v := serveAsync(t, s)
	waitEvent(t, rec, supervisor.SupervisorReady, "", 1)
	if err := s.StartChild(testCtx(t), pspec(newProbe("dyn", nil))); err != nil {
		t.Fatal(err)
	}
	wantStates(t, s, "a=running", "dyn=running")
	v.cancel()
	if err := v.wait(t); err != nil {
		t.Fatalf("first Serve: %v", err)
	}

	v2 := serveAsync(t, s)
	waitEvent(t, rec, supervisor.SupervisorReady, "", 2)
	wantStates(t, s, "a=running")
	if a.incarnations() != 2 {
		t.Errorf("a started %d times, want 2", a.incarnations())
	}
	v2.cancel()
	if err := v2.wait(t); err != nil {
		t.Fatalf("second Serve: %v", err)
	}
}
