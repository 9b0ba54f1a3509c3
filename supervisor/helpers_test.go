package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
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

// journal records what children did, in order, across goroutines.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	j.mu.Unlock()
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

func (j *journal) reset() {
	j.mu.Lock()
	j.lines = nil
	j.mu.Unlock()
}

// controlled is a child whose incarnations a test drives: each incarnation
// journals "start <id>" and "stop <id>", and exits with whatever the test sends
// on exit, or when its context is cancelled.
type controlled struct {
	id   string
	j    *journal
	exit chan error
}

func newControlled(id string, j *journal) *controlled {
	return &controlled{id: id, j: j, exit: make(chan error)}
}

func (c *controlled) Serve(ctx context.Context) error {
	c.j.add("start " + c.id)
	child.Ready(ctx)
	select {
	case err := <-c.exit:
		c.j.add("exit " + c.id)
		return err
	case <-ctx.Done():
		c.j.add("stop " + c.id)
		return ctx.Err()
	}
}

// crash makes the running incarnation return err; it waits until one takes it.
func (c *controlled) crash(t *testing.T, err error) {
	t.Helper()
	select {
	case c.exit <- err:
	case <-time.After(testTimeout):
		t.Fatalf("child %s: no incarnation took the exit", c.id)
	}
}

func spec(c *controlled) child.Spec {
	return child.Spec{ID: c.id, Service: c, AwaitReady: true}
}

func startSup(t *testing.T, s sup) {
	t.Helper()
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
}

func waitEvent(t *testing.T, rec *supervisortest.Recorder, k supervisor.EventKind, id string, n int) supervisor.Event {
	t.Helper()
	ev, err := rec.WaitForNth(testCtx(t), k, id, n)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// t0 is where fake clocks start.
var t0 = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// errBoom is the crash reason tests use.
var errBoom = errors.New("boom")

// errStartFail is the reason a failing start returns before it is ready.
var errStartFail = errors.New("start failed")

func newClock() *supervisortest.Clock { return supervisortest.NewClock(t0) }

// mustNew builds a supervisor or fails the test.
func mustNew(t *testing.T, name string, specs []child.Spec, opts ...supervisor.Option) *supervisor.Supervisor {
	t.Helper()
	s, err := supervisor.New(name, specs, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return s
}

// sup is what the helpers need of a *supervisor.Supervisor or a
// *supervisor.Simple.
type sup interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Wait() error
	Children(ctx context.Context) ([]supervisor.ChildInfo, error)
	Info(ctx context.Context) (supervisor.Info, error)
}

// startT starts s and stops it at cleanup. Unlike startSup, the cleanup's
// Stop is bounded, so a test that failed with a child still blocked does not
// hang.
func startT(t *testing.T, s sup) {
	t.Helper()
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		// No deadline on Stop's ctx (it would be read on the supervisor's
		// clock); the wait for it is bounded instead.
		c := make(chan error, 1)
		// Ends when Stop returns.
		go func() { c <- s.Stop(context.Background()) }()
		select {
		case <-c:
		case <-time.After(testTimeout):
			t.Errorf("cleanup: supervisor %s did not stop", s.Name())
		}
	})
}

// waitSup waits for the supervisor's current or last Serve to return and
// returns its result.
func waitSup(t *testing.T, s sup) error {
	t.Helper()
	c := make(chan error, 1)
	// Ends when Serve returns; bounded by the test's cleanup Stop otherwise.
	go func() { c <- s.Wait() }()
	select {
	case err := <-c:
		return err
	case <-time.After(testTimeout):
		t.Fatalf("supervisor %s did not return", s.Name())
		return nil
	}
}

// serving is a Serve running on its own goroutine.
type serving struct {
	done   chan struct{}
	err    error // written before done is closed
	cancel context.CancelFunc
}

// serveAsync runs s.Serve on a goroutine; its ctx is cancelled at cleanup,
// and the cleanup waits for Serve to return.
func serveAsync(t *testing.T, s *supervisor.Supervisor) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	v := &serving{done: make(chan struct{}), cancel: cancel}
	// Ends when Serve returns: at the latest when ctx is cancelled at cleanup.
	go func() {
		v.err = s.Serve(ctx)
		close(v.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-v.done:
		case <-time.After(testTimeout):
			t.Errorf("cleanup: Serve of %s did not return", s.Name())
		}
	})
	return v
}

// wait returns Serve's result once it has returned.
func (v *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-v.done:
		return v.err
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
		return nil
	}
}

// returned reports whether Serve has returned, without waiting.
func (v *serving) returned() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// recv waits for a value on c.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// probe is a child a test drives. Each incarnation journals "start <id>",
// reports its number (1, 2, ...) on starts, runs onStart if set (a non-nil
// error is journalled as "fail <id>" and returned before Ready), reports
// ready, then journals "exit <id>" and returns what the test sends on exit,
// or journals "stop <id>" and returns ctx.Err() once cancelled.
type probe struct {
	id      string
	j       *journal
	exit    chan error
	starts  chan int
	n       atomic.Int64
	onStart func(ctx context.Context, n int) error // set before the supervisor starts
}

func newProbe(id string, j *journal) *probe {
	if j == nil {
		j = &journal{}
	}
	return &probe{id: id, j: j, exit: make(chan error), starts: make(chan int, 256)}
}

func (p *probe) Serve(ctx context.Context) error {
	n := int(p.n.Add(1))
	p.j.add("start " + p.id)
	select {
	case p.starts <- n:
	default:
	}
	if p.onStart != nil {
		if err := p.onStart(ctx, n); err != nil {
			p.j.add("fail " + p.id)
			return err
		}
	}
	child.Ready(ctx)
	select {
	case err := <-p.exit:
		p.j.add("exit " + p.id)
		return err
	case <-ctx.Done():
		p.j.add("stop " + p.id)
		return ctx.Err()
	}
}

// incarnations returns how many times Serve was called.
func (p *probe) incarnations() int { return int(p.n.Load()) }

// crash makes the running incarnation return err; it waits until one takes it.
func (p *probe) crash(t *testing.T, err error) {
	t.Helper()
	select {
	case p.exit <- err:
	case <-time.After(testTimeout):
		t.Fatalf("child %s: no incarnation took the exit", p.id)
	}
}

// waitStart waits until incarnation n has started.
func (p *probe) waitStart(t *testing.T, n int) {
	t.Helper()
	for {
		if got := recv(t, p.starts, "start of "+p.id); got >= n {
			return
		}
	}
}

// pspec is p's spec: awaited, with no start timer, so fake clocks hold only
// the timers a test is about.
func pspec(p *probe) child.Spec {
	return child.Spec{ID: p.id, Service: p, AwaitReady: true, StartTimeout: child.Infinity}
}

// stubborn is a child that ignores cancellation: once cancelled it journals
// "cancel <id>", reports on cancelled, and returns only when the test calls
// free (done at the latest at cleanup, so no goroutine outlives the test).
type stubborn struct {
	id        string
	j         *journal
	cancelled chan struct{} // receives once per cancelled incarnation
	release   chan struct{}
	once      sync.Once
	returned  atomic.Bool
}

func newStubborn(t *testing.T, id string, j *journal) *stubborn {
	if j == nil {
		j = &journal{}
	}
	s := &stubborn{id: id, j: j, cancelled: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(s.free)
	return s
}

func (s *stubborn) Serve(ctx context.Context) error {
	s.j.add("start " + s.id)
	child.Ready(ctx)
	<-ctx.Done()
	s.j.add("cancel " + s.id)
	s.cancelled <- struct{}{}
	<-s.release
	s.j.add("return " + s.id)
	s.returned.Store(true)
	return ctx.Err()
}

// free lets every incarnation return.
func (s *stubborn) free() { s.once.Do(func() { close(s.release) }) }

// children lists s's children or fails the test.
func children(t *testing.T, s sup) []supervisor.ChildInfo {
	t.Helper()
	infos, err := s.Children(testCtx(t))
	if err != nil {
		t.Fatalf("Children: %v", err)
	}
	return infos
}

// states renders children as "id=state" in list order.
func states(infos []supervisor.ChildInfo) []string {
	out := make([]string, len(infos))
	for i, c := range infos {
		out[i] = c.ID + "=" + c.State.String()
	}
	return out
}

// wantStates fails the test unless s's children are, in order, want.
func wantStates(t *testing.T, s sup, want ...string) []supervisor.ChildInfo {
	t.Helper()
	infos := children(t, s)
	if got := states(infos); !slices.Equal(got, want) {
		t.Fatalf("children %v, want %v", got, want)
	}
	return infos
}

// find returns the info of child id, or fails the test.
func find(t *testing.T, infos []supervisor.ChildInfo, id string) supervisor.ChildInfo {
	t.Helper()
	for _, c := range infos {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("child %q not listed in %v", id, states(infos))
	return supervisor.ChildInfo{}
}

// wantJournal fails the test unless j holds exactly want.
func wantJournal(t *testing.T, j *journal, want ...string) {
	t.Helper()
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("journal\n got  %q\n want %q", got, want)
	}
}

// kinds renders events as "kind child" (or "kind" for supervisor events).
func kinds(evs []supervisor.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind.String()
		if ev.Child != "" {
			out[i] += " " + ev.Child
		}
	}
	return out
}

// after returns the events that follow the first one of kind k.
func after(evs []supervisor.Event, k supervisor.EventKind) []supervisor.Event {
	for i, ev := range evs {
		if ev.Kind == k {
			return evs[i+1:]
		}
	}
	return nil
}

// stopTimeouts collects every *StopTimeoutError in err's tree.
func stopTimeouts(err error) []*supervisor.StopTimeoutError {
	var out []*supervisor.StopTimeoutError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if st, ok := err.(*supervisor.StopTimeoutError); ok {
			out = append(out, st)
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// gate is a channel a test closes to let children proceed; it is closed at
// cleanup at the latest.
func newGate(t *testing.T) (c chan struct{}, open func()) {
	c = make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(c) }) }
	t.Cleanup(open)
	return c, open
}

// stop stops s and returns Stop's result. Its ctx has no deadline: a
// deadline is read against the supervisor's clock, which in most tests is a
// fake one far from the wall clock.
func stop(t *testing.T, s sup) error {
	t.Helper()
	c := make(chan error, 1)
	// Ends when Stop returns.
	go func() { c <- s.Stop(context.Background()) }()
	return recv(t, c, "Stop of "+s.Name())
}

// settle waits until s has finished any start or stop in progress. A child's
// own signal (such as a probe's starts) can arrive before the supervisor has
// seen it report ready; a mutating call is only handled between starts and
// stops, so its reply means the start in progress has completed.
func settle(t *testing.T, s *supervisor.Supervisor) {
	t.Helper()
	if err := s.DeleteChild(testCtx(t), "\x00settle"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Fatalf("settle: DeleteChild = %v, want ErrNotFound", err)
	}
}
