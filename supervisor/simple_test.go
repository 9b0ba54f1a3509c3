package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// instances runs simple_one_for_one instances a test drives by argument:
// each incarnation reports its argument on started, then returns what the
// test sends on exits[arg], or ctx.Err() once cancelled.
type instances struct {
	started chan string
	mu      sync.Mutex
	exits   map[string]chan error
}

func newInstances() *instances {
	return &instances{started: make(chan string, 64), exits: make(map[string]chan error)}
}

func (in *instances) exitChan(arg string) chan error {
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.exits[arg]
	if !ok {
		c = make(chan error)
		in.exits[arg] = c
	}
	return c
}

func (in *instances) start(ctx context.Context, arg string) error {
	exit := in.exitChan(arg)
	child.Ready(ctx)
	in.started <- arg
	select {
	case err := <-exit:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newSimple(t *testing.T, template child.Spec, start func(context.Context, string) error, opts ...supervisor.Option) *supervisor.Simple[string] {
	t.Helper()
	p, err := supervisor.NewSimple("pool", template, start, opts...)
	if err != nil {
		t.Fatalf("NewSimple: %v", err)
	}
	startT(t, p)
	return p
}

// a10: no children at first; typed per-instance arguments; a handle per instance.
func TestSimpleStartsInstancesWithArguments(t *testing.T) {
	in := newInstances()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, in.start)
	ctx := testCtx(t)
	if got, _ := p.Children(ctx); len(got) != 0 {
		t.Fatalf("children at start = %v, want none", got)
	}
	ha, err := p.StartChild(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, in.started, "a started"); got != "a" {
		t.Fatalf("instance got argument %q, want a", got)
	}
	hb, err := p.StartChild(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "b started")
	if ha.ID() != "w#1" || hb.ID() != "w#2" {
		t.Fatalf("handles %q %q, want w#1 w#2", ha.ID(), hb.ID())
	}
	infos, _ := p.Children(ctx)
	if len(infos) != 2 || infos[0].ID != "w#1" || infos[1].ID != "w#2" || infos[0].State != supervisor.StateRunning {
		t.Fatalf("children = %+v", infos)
	}
	counts, _ := p.CountChildren(ctx)
	if want := (supervisor.Counts{Specs: 1, Active: 2, Workers: 2}); counts != want {
		t.Fatalf("counts = %+v, want %+v", counts, want)
	}
}

// a10: a permanent instance is restarted with the same argument; instances share one intensity window.
func TestSimpleRestartsWithSameArgument(t *testing.T) {
	in := newInstances()
	rec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, in.start,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1, Period: time.Hour}),
		supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	ctx := testCtx(t)
	for _, arg := range []string{"x", "y"} {
		if _, err := p.StartChild(ctx, arg); err != nil {
			t.Fatal(err)
		}
		recv(t, in.started, arg)
	}
	in.exitChan("x") <- errBoom
	if got := recv(t, in.started, "x restarted"); got != "x" {
		t.Fatalf("restarted with %q, want x", got)
	}
	// The second restart-needing exit, of another instance, exceeds 1 in an hour.
	in.exitChan("y") <- errBoom
	if err := waitSup(t, p); !errors.Is(err, escalation.ErrExceeded) || !errors.Is(err, errBoom) {
		t.Fatalf("Serve = %v, want ErrExceeded wrapping errBoom", err)
	}
}

// a10: temporary instances are not restarted and not kept.
func TestSimpleTemporaryInstanceForgotten(t *testing.T) {
	in := newInstances()
	rec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w", Restart: child.Temporary, AwaitReady: true}, in.start, supervisor.WithHook(rec.Hook()))
	ctx := testCtx(t)
	if _, err := p.StartChild(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "t")
	in.exitChan("t") <- errBoom
	waitEvent(t, rec, supervisor.ChildExited, "w#1", 1)
	if got, _ := p.Children(ctx); len(got) != 0 {
		t.Fatalf("children = %+v, want none", got)
	}
}

// a10: terminate by handle, idempotent; ID-based calls refused.
func TestSimpleTerminateAndRefusedCalls(t *testing.T) {
	in := newInstances()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, in.start)
	other := newSimple(t, child.Spec{ID: "o", AwaitReady: true}, in.start)
	ctx := testCtx(t)
	h, err := p.StartChild(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "a")
	if err := p.TerminateChild(ctx, h); err != nil {
		t.Fatalf("TerminateChild = %v", err)
	}
	if err := p.TerminateChild(ctx, h); err != nil {
		t.Fatalf("second TerminateChild = %v, want nil (already gone)", err)
	}
	if got, _ := p.Children(ctx); len(got) != 0 {
		t.Fatalf("children after terminate = %+v", got)
	}
	oh, err := other.StartChild(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "b")
	if err := p.TerminateChild(ctx, oh); !errors.Is(err, supervisor.ErrNotFound) {
		t.Fatalf("TerminateChild(other's handle) = %v, want ErrNotFound", err)
	}
}

// a10: an instance that declines its start is not kept; a restart that declines removes it.
func TestSimpleIgnore(t *testing.T) {
	var mu sync.Mutex
	ignore := map[string]bool{"i": true}
	in := newInstances()
	start := func(ctx context.Context, arg string) error {
		mu.Lock()
		ig := ignore[arg]
		mu.Unlock()
		if ig {
			return child.ErrIgnore
		}
		return in.start(ctx, arg)
	}
	rec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, start, supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}))
	ctx := testCtx(t)
	h, err := p.StartChild(ctx, "i")
	if err != nil || !h.IsZero() {
		t.Fatalf("StartChild(ignoring) = %v, %v; want zero handle, nil", h, err)
	}
	if _, err := p.StartChild(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "r")
	mu.Lock()
	ignore["r"] = true
	mu.Unlock()
	in.exitChan("r") <- errBoom
	waitEvent(t, rec, supervisor.ChildIgnored, "w#2", 1)
	if got, _ := p.Children(ctx); len(got) != 0 {
		t.Fatalf("children = %+v, want none", got)
	}
}

// a8: instances stop in parallel. Each waits, once cancelled, for every
// other to be cancelled too, which only a parallel stop can satisfy.
func TestSimpleStopsInParallel(t *testing.T) {
	const n = 5
	var barrier sync.WaitGroup
	barrier.Add(n)
	started := make(chan struct{}, n)
	start := func(ctx context.Context, _ int) error {
		child.Ready(ctx)
		started <- struct{}{}
		<-ctx.Done()
		barrier.Done()
		barrier.Wait()
		return nil
	}
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "w", AwaitReady: true, Shutdown: child.Infinity}, start)
	if err != nil {
		t.Fatal(err)
	}
	startT(t, p)
	for i := range n {
		if _, err := p.StartChild(testCtx(t), i); err != nil {
			t.Fatal(err)
		}
		recv(t, started, "instance started")
	}
	if err := stop(t, p); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

// a8: one shared budget; survivors are abandoned and reported.
func TestSimpleSharedShutdownBudget(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan bool, 2)
	start := func(ctx context.Context, stubborn bool) error {
		child.Ready(ctx)
		started <- stubborn
		<-ctx.Done()
		if stubborn {
			<-release
		}
		return nil
	}
	rec := supervisortest.NewRecorder()
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "w", AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 2 * time.Second}, start,
		supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	startT(t, p)
	for _, stubborn := range []bool{false, true} {
		if _, err := p.StartChild(testCtx(t), stubborn); err != nil {
			t.Fatal(err)
		}
		recv(t, started, "started")
	}
	done := make(chan error, 1)
	// Ends when Stop returns, once the clock passes the budget.
	go func() { done <- p.Stop(context.Background()) }()
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rec, supervisor.ChildStopped, "w#1", 1) // the prompt one is done before the budget runs out
	clock.Advance(2 * time.Second)
	err = recv(t, done, "Stop")
	timeouts := stopTimeouts(err)
	if len(timeouts) != 1 || timeouts[0].Child != "w#2" || timeouts[0].Budget != 2*time.Second {
		t.Fatalf("Stop = %v, want one StopTimeoutError for w#2 with budget 2s", err)
	}
}

// a10: restarting instances are not active but still counted by kind.
func TestSimpleCountRestarting(t *testing.T) {
	clock := newClock()
	in := newInstances()
	rec := supervisortest.NewRecorder()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, in.start, supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Hour}),
		supervisor.WithBackoff(func() supervisor.BackOff { return backoff.NewConstantBackOff(time.Minute) }))
	ctx := testCtx(t)
	for _, arg := range []string{"a", "b", "c"} {
		if _, err := p.StartChild(ctx, arg); err != nil {
			t.Fatal(err)
		}
		recv(t, in.started, arg)
	}
	in.exitChan("b") <- errBoom
	waitEvent(t, rec, supervisor.RestartScheduled, "w#2", 1)
	counts, _ := p.CountChildren(ctx)
	if want := (supervisor.Counts{Specs: 1, Active: 2, Workers: 3}); counts != want {
		t.Fatalf("counts = %+v, want %+v", counts, want)
	}
	clock.Advance(time.Minute)
	if got := recv(t, in.started, "b restarted"); got != "b" {
		t.Fatalf("restarted %q", got)
	}
}

// a1, a9: validation of simple_one_for_one.
func TestSimpleValidation(t *testing.T) {
	start := func(context.Context, int) error { return nil }
	if _, err := supervisor.NewSimple("p", child.Spec{ID: "w", Service: child.Func(func(context.Context) error { return nil })}, start); !errors.Is(err, child.ErrInvalidSpec) {
		t.Errorf("template with a Service: %v, want ErrInvalidSpec", err)
	}
	if _, err := supervisor.NewSimple[int]("p", child.Spec{ID: "w"}, nil); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("nil start: %v, want ErrInvalidOption", err)
	}
	if _, err := supervisor.NewSimple("p", child.Spec{ID: "w"}, start, supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant)); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("auto-shutdown: %v, want ErrInvalidOption", err)
	}
	if _, err := supervisor.NewSimple("p", child.Spec{ID: "w"}, start, supervisor.WithStrategy(strategy.OneForAll)); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("WithStrategy: %v, want ErrInvalidOption", err)
	}
	if _, err := supervisor.New("p", nil, supervisor.WithStrategy(strategy.SimpleOneForOne)); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Errorf("New with simple_one_for_one: %v, want ErrInvalidOption", err)
	}
	if _, err := supervisor.NewSimple("p", child.Spec{ID: "w", Restart: child.Transient, Significant: true}, start); !errors.Is(err, child.ErrInvalidSpec) {
		t.Errorf("significant template: %v, want ErrInvalidSpec", err)
	}
}

// Apply on a simple supervisor changes the template for new instances only.
func TestSimpleApplyTemplate(t *testing.T) {
	in := newInstances()
	p := newSimple(t, child.Spec{ID: "w", AwaitReady: true}, in.start)
	ctx := testCtx(t)
	if _, err := p.StartChild(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "old")
	cfg := p.Config()
	cfg.Children[0].Shutdown = time.Second
	ch, err := p.Apply(ctx, cfg)
	if err != nil || !slices.Equal(ch.Changed, []string{"w"}) {
		t.Fatalf("Apply = %+v, %v; want w changed", ch, err)
	}
	if _, err := p.StartChild(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	recv(t, in.started, "new")
	oldSpec, _ := p.ChildSpec(ctx, "w#1")
	newSpec, _ := p.ChildSpec(ctx, "w#2")
	if oldSpec.Shutdown != child.DefaultShutdown || newSpec.Shutdown != time.Second {
		t.Fatalf("shutdowns old %v new %v; want %v and 1s", oldSpec.Shutdown, newSpec.Shutdown, child.DefaultShutdown)
	}
}

// A Simple nests in a tree like any supervisor, and its parent's Tree
// includes it with its instances.
func TestSimpleNestedAppearsInTree(t *testing.T) {
	in := newInstances()
	p, err := supervisor.NewSimple("pool", child.Spec{ID: "w", AwaitReady: true}, in.start)
	if err != nil {
		t.Fatal(err)
	}
	root := mustNew(t, "root", []child.Spec{{ID: "pool", Service: p, Kind: child.KindSupervisor}})
	startT(t, root)
	h, err := p.StartChild(testCtx(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := root.Tree(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	sub := tree.Subtrees["pool"]
	if sub == nil || sub.Path != "root/pool" || len(sub.Children) != 1 || sub.Children[0].ID != h.ID() {
		t.Fatalf("Tree.Subtrees = %+v, want the pool with its instance %s", tree.Subtrees, h.ID())
	}
}
