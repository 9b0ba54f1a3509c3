package prom_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/internal/runner"
	"github.com/arborgo/arbor/prom"
	"github.com/arborgo/arbor/registry"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds every wait in a test, so a bug fails the test instead of
// hanging it; it is not a timing assertion.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// t0 is where fake clocks start.
var t0 = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

// driven is a child whose incarnations report ready, then run whatever the
// test sends them and return its result, or return nil once cancelled.
type driven struct {
	id   string
	cmds chan func() error
}

func newDriven(id string) *driven { return &driven{id: id, cmds: make(chan func() error)} }

func (d *driven) Serve(ctx context.Context) error {
	child.Ready(ctx)
	select {
	case f := <-d.cmds:
		return f()
	case <-ctx.Done():
		return nil
	}
}

// do hands f to the running incarnation; it waits until one takes it.
func (d *driven) do(t *testing.T, f func() error) {
	t.Helper()
	select {
	case d.cmds <- f:
	case <-time.After(testTimeout):
		t.Fatalf("child %s: no incarnation took the command", d.id)
	}
}

func (d *driven) exit(t *testing.T, err error) {
	t.Helper()
	d.do(t, func() error { return err })
}

func (d *driven) spec() child.Spec {
	return child.Spec{ID: d.id, Service: d, AwaitReady: true}
}

// setup returns a collector registered on a pedantic registry.
func setup(t *testing.T, opts ...prom.Option) (*prom.Collector, *prometheus.Registry) {
	t.Helper()
	c := prom.NewCollector(opts...)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return c, reg
}

// hooks gives a supervisor the collector's hook, then the recorder's: hooks
// run in order for each event, so once the recorder has an event the
// collector has counted it.
func hooks(c *prom.Collector, rec *supervisortest.Recorder) []supervisor.Option {
	return []supervisor.Option{supervisor.WithHook(c.Hook()), supervisor.WithHook(rec.Hook())}
}

func mustNew(t *testing.T, name string, specs []child.Spec, opts ...supervisor.Option) *supervisor.Supervisor {
	t.Helper()
	s, err := supervisor.New(name, specs, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return s
}

func wait(t *testing.T, rec *supervisortest.Recorder, k supervisor.EventKind, id string, n int) supervisor.Event {
	t.Helper()
	ev, err := rec.WaitForNth(testCtx(t), k, id, n)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func lint(t *testing.T, reg prometheus.Gatherer) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func compare(t *testing.T, reg prometheus.Gatherer, expected string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), names...); err != nil {
		t.Error(err)
	}
}

const (
	helpRestarts = `# HELP arbor_child_restarts_total Child exits that led to a restart, and failed starts, by reason.
# TYPE arbor_child_restarts_total counter
`
	helpTimeouts = `# HELP arbor_child_shutdown_timeouts_total Child incarnations abandoned because they did not return within their shutdown budget.
# TYPE arbor_child_shutdown_timeouts_total counter
`
	helpExceeded = `# HELP arbor_supervisor_intensity_exceeded_total Times the supervisor gave up because it exceeded its restart intensity (or its backoff policy stopped).
# TYPE arbor_supervisor_intensity_exceeded_total counter
`
	helpUp = `# HELP arbor_child_up Whether the child has a running incarnation (1) or not (0); for the instances of a simple_one_for_one template, how many run.
# TYPE arbor_child_up gauge
`
	helpInWindow = `# HELP arbor_supervisor_restarts_in_window Restarts inside the supervisor's current intensity window.
# TYPE arbor_supervisor_restarts_in_window gauge
`
	helpIntensity = `# HELP arbor_supervisor_intensity Restarts the supervisor allows within its intensity period (MaxRestarts).
# TYPE arbor_supervisor_intensity gauge
`
	helpReady = `# HELP arbor_tree_ready Whether every supervisor of the watched tree has started all its children and is not stopping (1) or not (0).
# TYPE arbor_tree_ready gauge
`
)

// A nested tree in which one child exits with each kind of reason: the
// counters follow the events, the gauges the tree, and the registry is
// pedantic and lint-clean throughout, including while scrapes race the events.
func TestTree(t *testing.T) {
	c, reg := setup(t)
	rec := supervisortest.NewRecorder()
	clock := supervisortest.NewClock(t0)

	leaf := newDriven("leaf")
	sub := mustNew(t, "sub", []child.Spec{leaf.spec()}, append(hooks(c, rec), supervisor.WithClock(clock))...)
	w := newDriven("w")
	job := newDriven("job")
	jobSpec := job.spec()
	jobSpec.Restart = child.Transient
	root := mustNew(t, "root",
		[]child.Spec{w.spec(), {ID: "sub", Service: sub, Kind: child.KindSupervisor}, jobSpec},
		append(hooks(c, rec),
			supervisor.WithClock(clock),
			supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 10, Period: time.Hour}))...)

	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("before any event and Watch: %d metrics, want 0", n)
	}
	c.Watch(root)
	compare(t, reg, helpReady+"arbor_tree_ready 0\n", "arbor_tree_ready") // not running yet

	// Scrapes run concurrently with everything below.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := reg.Gather(); err != nil {
				t.Errorf("concurrent Gather: %v", err)
				return
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	if err := root.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = root.Stop(context.Background()) })

	w.exit(t, errBoom)
	wait(t, rec, supervisor.ChildStarted, "w", 2)
	w.do(t, func() error { panic("kaboom") })
	wait(t, rec, supervisor.ChildStarted, "w", 3)
	w.exit(t, nil)
	wait(t, rec, supervisor.ChildStarted, "w", 4)
	w.exit(t, child.Shutdownf("draining"))
	wait(t, rec, supervisor.ChildStarted, "w", 5)
	job.exit(t, nil) // transient, normal: not restarted, not counted
	if ev := wait(t, rec, supervisor.ChildExited, "job", 1); ev.Restarted {
		t.Fatalf("job exit: Restarted = true, want false")
	}
	leaf.exit(t, errBoom)
	wait(t, rec, supervisor.ChildStarted, "leaf", 2)

	compare(t, reg, helpRestarts+`arbor_child_restarts_total{child="leaf",reason="error",supervisor="root/sub"} 1
arbor_child_restarts_total{child="w",reason="error",supervisor="root"} 1
arbor_child_restarts_total{child="w",reason="normal",supervisor="root"} 1
arbor_child_restarts_total{child="w",reason="panic",supervisor="root"} 1
arbor_child_restarts_total{child="w",reason="shutdown",supervisor="root"} 1
`+helpTimeouts+`arbor_child_shutdown_timeouts_total{child="job",supervisor="root"} 0
arbor_child_shutdown_timeouts_total{child="leaf",supervisor="root/sub"} 0
arbor_child_shutdown_timeouts_total{child="sub",supervisor="root"} 0
arbor_child_shutdown_timeouts_total{child="w",supervisor="root"} 0
`+helpExceeded+`arbor_supervisor_intensity_exceeded_total{supervisor="root"} 0
arbor_supervisor_intensity_exceeded_total{supervisor="root/sub"} 0
`+helpUp+`arbor_child_up{child="job",supervisor="root"} 0
arbor_child_up{child="leaf",supervisor="root/sub"} 1
arbor_child_up{child="sub",supervisor="root"} 1
arbor_child_up{child="w",supervisor="root"} 1
`+helpInWindow+`arbor_supervisor_restarts_in_window{supervisor="root"} 4
arbor_supervisor_restarts_in_window{supervisor="root/sub"} 1
`+helpIntensity+`arbor_supervisor_intensity{supervisor="root"} 10
arbor_supervisor_intensity{supervisor="root/sub"} 1
`+helpReady+`arbor_tree_ready 1
`)
	lint(t, reg)
	if n := testutil.CollectAndCount(c, "arbor_child_up"); n != 4 {
		t.Errorf("arbor_child_up: %d series, want 4", n)
	}

	// A removed child disappears from the gauges and keeps its counters.
	if err := root.DeleteChild(testCtx(t), "job"); err != nil {
		t.Fatalf("DeleteChild: %v", err)
	}
	if n := testutil.CollectAndCount(c, "arbor_child_up"); n != 3 {
		t.Errorf("arbor_child_up after DeleteChild: %d series, want 3", n)
	}

	// Without a watched tree only the counters remain.
	c.Watch(nil)
	for _, name := range []string{"arbor_child_up", "arbor_supervisor_restarts_in_window", "arbor_supervisor_intensity", "arbor_tree_ready"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s after Watch(nil): %d series, want 0", name, n)
		}
	}
	if n := testutil.CollectAndCount(c, "arbor_child_restarts_total"); n != 5 {
		t.Errorf("arbor_child_restarts_total after Watch(nil): %d series, want 5", n)
	}
}

// script is a child whose nth incarnation (from 1) runs steps[n-1]; later
// incarnations run the last step.
type script struct {
	n     atomic.Int32
	steps []func(ctx context.Context) error
}

func (s *script) Serve(ctx context.Context) error {
	i := int(s.n.Add(1)) - 1
	return s.steps[min(i, len(s.steps)-1)](ctx)
}

// Failed restarts count as start_error, or timeout for a missed start budget.
func TestFailedRestarts(t *testing.T) {
	c, reg := setup(t)
	rec := supervisortest.NewRecorder()
	clock := supervisortest.NewClock(t0)

	crash := make(chan struct{})
	readyThenCrash := func(ctx context.Context) error {
		child.Ready(ctx)
		select {
		case <-crash:
			return errBoom
		case <-ctx.Done():
			return nil
		}
	}
	s := &script{steps: []func(context.Context) error{
		readyThenCrash,
		func(ctx context.Context) error { return errBoom },           // exits before it is ready
		func(ctx context.Context) error { <-ctx.Done(); return nil }, // never ready
		readyThenCrash,
	}}
	const budget = 10 * time.Second
	root := mustNew(t, "root",
		[]child.Spec{{ID: "s", Service: s, AwaitReady: true, StartTimeout: budget}},
		append(hooks(c, rec),
			supervisor.WithClock(clock),
			supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 10, Period: time.Hour}))...)
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = root.Stop(context.Background()) })
	c.Watch(root)

	select {
	case crash <- struct{}{}:
	case <-time.After(testTimeout):
		t.Fatal("no incarnation took the crash")
	}
	wait(t, rec, supervisor.ChildStartFailed, "s", 1)
	// The supervisor stops the start budget of each incarnation that became
	// ready or failed, so the one pending timer is incarnation 3's.
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(budget)
	if ev := wait(t, rec, supervisor.ChildStartFailed, "s", 2); !errors.Is(ev.Err, supervisor.ErrStartTimeout) {
		t.Fatalf("second start failure: %v, want ErrStartTimeout", ev.Err)
	}
	wait(t, rec, supervisor.ChildStarted, "s", 2)

	compare(t, reg, helpRestarts+`arbor_child_restarts_total{child="s",reason="error",supervisor="root"} 1
arbor_child_restarts_total{child="s",reason="start_error",supervisor="root"} 1
arbor_child_restarts_total{child="s",reason="timeout",supervisor="root"} 1
`+helpInWindow+`arbor_supervisor_restarts_in_window{supervisor="root"} 3
`+helpReady+`arbor_tree_ready 1
`, "arbor_child_restarts_total", "arbor_supervisor_restarts_in_window", "arbor_tree_ready")
	lint(t, reg)
}

// A failed initial start is counted as start_error too, and the tree is not
// ready once its root has failed.
func TestInitialStartFailure(t *testing.T) {
	c, reg := setup(t)
	rec := supervisortest.NewRecorder()
	failing := child.Spec{ID: "db", AwaitReady: true,
		Service: child.Func(func(ctx context.Context) error { return errBoom })}
	root := mustNew(t, "root", []child.Spec{failing}, hooks(c, rec)...)
	c.Watch(root)
	if err := root.Start(testCtx(t)); !errors.Is(err, supervisor.ErrStartFailed) {
		t.Fatalf("Start: %v, want ErrStartFailed", err)
	}
	wait(t, rec, supervisor.SupervisorStopped, "", 1)
	compare(t, reg, helpRestarts+`arbor_child_restarts_total{child="db",reason="start_error",supervisor="root"} 1
`+helpReady+`arbor_tree_ready 0
`, "arbor_child_restarts_total", "arbor_tree_ready")
	lint(t, reg)
}

// Escalation and an abandoned child are counted; a root that has given up is
// exported as a tree that is not ready, with no per-child gauges.
func TestIntensityExceededAndShutdownTimeout(t *testing.T) {
	c, reg := setup(t)
	rec := supervisortest.NewRecorder()
	clock := supervisortest.NewClock(t0)

	release := make(chan struct{})
	defer close(release) // lets the abandoned incarnation return before goleak looks
	stuck := child.Spec{ID: "stuck", Shutdown: time.Second,
		Service: child.Func(func(ctx context.Context) error { <-release; return nil })}
	flaky := newDriven("flaky")
	flakySpec := child.Spec{ID: "flaky", Service: flaky} // not awaited: no start timers on the clock
	root := mustNew(t, "root", []child.Spec{stuck, flakySpec},
		append(hooks(c, rec),
			supervisor.WithClock(clock),
			supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1, Period: time.Hour}))...)
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	c.Watch(root)

	flaky.exit(t, errBoom)
	wait(t, rec, supervisor.ChildStarted, "flaky", 2)
	flaky.exit(t, errBoom) // one too many: the supervisor gives up and shuts down
	wait(t, rec, supervisor.IntensityExceeded, "flaky", 1)
	// Shutting down, it waits for stuck on the only timer of the clock.
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err := root.Wait()
	if !errors.Is(err, escalation.ErrExceeded) || !errors.Is(err, supervisor.ErrStopTimeout) {
		t.Fatalf("Wait: %v, want ErrExceeded and ErrStopTimeout", err)
	}
	wait(t, rec, supervisor.SupervisorStopped, "", 1)

	// The exit that made the supervisor give up led to no restart: not counted.
	compare(t, reg, helpRestarts+`arbor_child_restarts_total{child="flaky",reason="error",supervisor="root"} 1
`+helpTimeouts+`arbor_child_shutdown_timeouts_total{child="flaky",supervisor="root"} 0
arbor_child_shutdown_timeouts_total{child="stuck",supervisor="root"} 1
`+helpExceeded+`arbor_supervisor_intensity_exceeded_total{supervisor="root"} 1
`+helpReady+`arbor_tree_ready 0
`)
	lint(t, reg)
}

// The scrape timeout is an option; nonsense values mean the default.
func TestWithScrapeTimeout(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, time.Minute} {
		c, reg := setup(t, prom.WithScrapeTimeout(d), nil)
		rec := supervisortest.NewRecorder()
		root := mustNew(t, "root", []child.Spec{newDriven("w").spec()}, hooks(c, rec)...)
		if err := root.Start(testCtx(t)); err != nil {
			t.Fatalf("Start: %v", err)
		}
		c.Watch(root)
		compare(t, reg, helpReady+"arbor_tree_ready 1\n", "arbor_tree_ready")
		if err := root.Stop(testCtx(t)); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
}

func TestReason(t *testing.T) {
	exited := func(err error, restarted bool) supervisor.Event {
		return supervisor.Event{Kind: supervisor.ChildExited, Err: err, Restarted: restarted}
	}
	failed := func(err error) supervisor.Event {
		return supervisor.Event{Kind: supervisor.ChildStartFailed, Err: err}
	}
	tests := []struct {
		name string
		ev   supervisor.Event
		want string
	}{
		{"nil", exited(nil, true), prom.ReasonNormal},
		{"shutdown", exited(child.ErrShutdown, true), prom.ReasonShutdown},
		{"wrapped shutdown", exited(child.Shutdownf("drain"), true), prom.ReasonShutdown},
		{"error", exited(errBoom, true), prom.ReasonError},
		{"context canceled", exited(context.Canceled, true), prom.ReasonError},
		{"goexit", exited(child.ErrGoexit, true), prom.ReasonError},
		{"panic", exited(panicErr("x"), true), prom.ReasonPanic},
		{"panic with shutdown value", exited(panicErr(child.ErrShutdown), true), prom.ReasonPanic},
		{"wrapped panic", exited(fmt.Errorf("w: %w", panicErr("x")), true), prom.ReasonPanic},
		{"not restarted", exited(errBoom, false), ""},
		{"start error", failed(errBoom), prom.ReasonStartError},
		{"start panic", failed(fmt.Errorf("exited before it was ready: %w", panicErr("x"))), prom.ReasonStartError},
		{"start timeout", failed(supervisor.ErrStartTimeout), prom.ReasonTimeout},
		{"wrapped start timeout", failed(&supervisor.StartError{Err: supervisor.ErrStartTimeout}), prom.ReasonTimeout},
		{"abandoned", supervisor.Event{Kind: supervisor.ChildAbandoned, Err: errBoom}, ""},
		{"intensity exceeded", supervisor.Event{Kind: supervisor.IntensityExceeded, Err: errBoom}, ""},
		{"started", supervisor.Event{Kind: supervisor.ChildStarted}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := prom.Reason(tt.ev); got != tt.want {
				t.Errorf("Reason = %q, want %q", got, tt.want)
			}
		})
	}
}

// One hook may serve events from many goroutines at once.
func TestHookConcurrent(t *testing.T) {
	c, reg := setup(t)
	h := c.Hook()
	const goroutines, each = 8, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			sup := fmt.Sprintf("root/s%d", g%2)
			for range each {
				h(supervisor.Event{Kind: supervisor.ChildExited, Supervisor: sup, Child: "c", Err: errBoom, Restarted: true})
				h(supervisor.Event{Kind: supervisor.ChildAbandoned, Supervisor: sup, Child: "c"})
				h(supervisor.Event{Kind: supervisor.IntensityExceeded, Supervisor: sup, Child: "c"})
			}
		})
	}
	wg.Wait()
	const n = goroutines / 2 * each
	compare(t, reg, helpRestarts+fmt.Sprintf(`arbor_child_restarts_total{child="c",reason="error",supervisor="root/s0"} %[1]d
arbor_child_restarts_total{child="c",reason="error",supervisor="root/s1"} %[1]d
`+helpTimeouts+`arbor_child_shutdown_timeouts_total{child="c",supervisor="root/s0"} %[1]d
arbor_child_shutdown_timeouts_total{child="c",supervisor="root/s1"} %[1]d
`+helpExceeded+`arbor_supervisor_intensity_exceeded_total{supervisor="root/s0"} %[1]d
arbor_supervisor_intensity_exceeded_total{supervisor="root/s1"} %[1]d
`, n))
}

// A label value that is not valid UTF-8 fails its own metric at Gather; the
// scrape does not panic and the other metrics are gathered.
func TestInvalidLabelValue(t *testing.T) {
	c, reg := setup(t)
	h := c.Hook()
	h(supervisor.Event{Kind: supervisor.IntensityExceeded, Supervisor: "root"})
	h(supervisor.Event{Kind: supervisor.ChildAbandoned, Supervisor: "root", Child: "bad\xff"})
	mfs, err := reg.Gather()
	if err == nil {
		t.Fatal("Gather: no error for a label value that is not UTF-8")
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if !slices.Contains(names, "arbor_supervisor_intensity_exceeded_total") {
		t.Errorf("gathered %v, want arbor_supervisor_intensity_exceeded_total among them", names)
	}
}

// panicErr is the *child.PanicError a supervisor reports for a panic with
// value v.
func panicErr(v any) *child.PanicError { return runner.NewPanic(v, 0).(*child.PanicError) }

// Simple_one_for_one instances are labelled by their
// template, and the series of children that no longer exist are dropped, so
// the series do not grow with every child ever started.
func TestSeriesStayBounded(t *testing.T) {
	c, reg := setup(t)
	rec := supervisortest.NewRecorder()
	var crashed sync.Map
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "conn", Restart: child.Transient},
		func(ctx context.Context, n int) error {
			if _, again := crashed.LoadOrStore(n, true); !again {
				return errBoom // the first incarnation crashes and is restarted
			}
			return nil // the second ends normally: the instance is deleted
		}, append(hooks(c, rec), supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1000, Period: time.Hour}))...)
	if err != nil {
		t.Fatal(err)
	}
	c.Watch(p)
	if err := p.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	const n = 50
	for i := range n {
		if _, err := p.StartChild(testCtx(t), i); err != nil {
			t.Fatal(err)
		}
	}
	// Each instance exits twice: a crash, then a normal end.
	if _, err := rec.WaitForNth(testCtx(t), supervisor.ChildExited, "", 2*n); err != nil {
		t.Fatal(err)
	}
	compare(t, reg, `# HELP arbor_child_restarts_total Child exits that led to a restart, and failed starts, by reason.
# TYPE arbor_child_restarts_total counter
arbor_child_restarts_total{child="conn",reason="error",supervisor="pool"} 50
`, "arbor_child_restarts_total")
	if got := testutil.CollectAndCount(c, "arbor_child_up", "arbor_child_shutdown_timeouts_total"); got > 2 {
		t.Fatalf("%d series for a template with no instance left, want at most one per metric", got)
	}

	// A static child that is deleted loses its series at the next scrape.
	rrec := supervisortest.NewRecorder()
	a := newDriven("a")
	root := mustNew(t, "root", []child.Spec{a.spec()}, hooks(c, rrec)...)
	c.Watch(root)
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Stop(context.Background()) })
	a.exit(t, errBoom)
	wait(t, rrec, supervisor.ChildStarted, "a", 2)
	if n := testutil.CollectAndCount(c, "arbor_child_restarts_total"); n != 1 {
		t.Fatalf("%d restart series, want a's", n)
	}
	if err := root.TerminateChild(testCtx(t), "a"); err != nil {
		t.Fatal(err)
	}
	if err := root.DeleteChild(testCtx(t), "a"); err != nil {
		t.Fatal(err)
	}
	testutil.CollectAndCount(c) // a scrape prunes
	if n := testutil.CollectAndCount(c, "arbor_child_restarts_total", "arbor_child_shutdown_timeouts_total"); n != 0 {
		t.Fatalf("%d series left for the deleted child, want none", n)
	}
}

// A reported goroutine leak is counted per child.
func TestLeaksCounted(t *testing.T) {
	c, reg := setup(t)
	hook := c.Hook()
	for range 2 {
		hook(supervisor.Event{Kind: supervisor.ChildLeaked, Supervisor: "root", Child: "a", Err: &supervisor.LeakError{Goroutines: 1}})
	}
	compare(t, reg, `# HELP arbor_child_goroutine_leaks_total Child incarnations that returned leaving goroutines running (reported under supervisor.WithLeakCheck).
# TYPE arbor_child_goroutine_leaks_total counter
arbor_child_goroutine_leaks_total{child="a",supervisor="root"} 2
`, "arbor_child_goroutine_leaks_total")
}

// A cluster singleton's leadership, from its supervisor's events: a lost
// term counts, a released one does not.
func TestLeadershipExported(t *testing.T) {
	c, reg := setup(t)
	hook := c.Hook()
	term := func(kind supervisor.EventKind, rev int64) supervisor.Event {
		return supervisor.Event{Kind: kind, Supervisor: "root", Child: "billing", Term: &supervisor.Term{Name: "billing", Key: "k", Revision: rev}}
	}
	hook(term(supervisor.LeadershipAcquired, 1))
	hook(term(supervisor.LeadershipLost, 1))
	hook(term(supervisor.LeadershipAcquired, 2))
	hook(term(supervisor.LeadershipReleased, 2))
	hook(term(supervisor.LeadershipAcquired, 3))
	compare(t, reg, `# HELP arbor_singleton_leader Whether this node leads the cluster singleton (1) or not (0), from its supervisor's leadership events.
# TYPE arbor_singleton_leader gauge
arbor_singleton_leader{name="billing"} 1
# HELP arbor_singleton_terms_lost_total Terms of the cluster singleton this node lost (lease lost or taken over), as opposed to handed off.
# TYPE arbor_singleton_terms_lost_total counter
arbor_singleton_terms_lost_total{name="billing"} 1
`, "arbor_singleton_leader", "arbor_singleton_terms_lost_total")
	hook(term(supervisor.LeadershipReleased, 3))
	compare(t, reg, `# HELP arbor_singleton_leader Whether this node leads the cluster singleton (1) or not (0), from its supervisor's leadership events.
# TYPE arbor_singleton_leader gauge
arbor_singleton_leader{name="billing"} 0
`, "arbor_singleton_leader")
}

// A Register refused because the name is taken is counted; a successful one
// and one refused for another reason are not.
func TestRegistryConflictsCounted(t *testing.T) {
	c, reg := setup(t)
	b := prom.CountConflicts[int](c, "workers", new(registry.Registry[int]))
	prom.CountConflicts[int](c, "idle", new(registry.Registry[int]))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Register(ctx, "db", 1); err != nil {
		t.Fatalf("first Register: %v", err)
	}
	for range 2 {
		if err := b.Register(ctx, "db", 2); !errors.Is(err, registry.ErrTaken) {
			t.Fatalf("second Register = %v, want registry.ErrTaken", err)
		}
	}
	if err := b.Register(ctx, "", 3); !errors.Is(err, registry.ErrInvalidName) {
		t.Fatalf("Register with no name = %v, want registry.ErrInvalidName", err)
	}
	if v, ok := b.Lookup("db"); !ok || v != 1 {
		t.Fatalf("Lookup(db) = %d, %t; want the first holder, 1", v, ok)
	}
	compare(t, reg, `# HELP arbor_registry_conflicts_total Registers refused because another live entry held the name (registry.ErrTaken), from prom.CountConflicts.
# TYPE arbor_registry_conflicts_total counter
arbor_registry_conflicts_total{registry="idle"} 0
arbor_registry_conflicts_total{registry="workers"} 2
`, "arbor_registry_conflicts_total")
}
