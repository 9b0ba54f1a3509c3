package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// gated is a probe of a start group whose readiness the test releases.
func gated(t *testing.T, id string, j *journal, group string) (*probe, child.Spec, func()) {
	p := newProbe(id, j)
	gate, open := newGate(t)
	p.onStart = func(ctx context.Context, n int) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	sp := pspec(p)
	sp.StartGroup = group
	return p, sp, open
}

// The members of a start group start together; the next
// sibling starts only once all are ready; they stop in reverse declared order.
func TestStartGroupStartsTogether(t *testing.T) {
	j := &journal{}
	a, as, openA := gated(t, "a", j, "g")
	b, bs, openB := gated(t, "b", j, "g")
	c := newProbe("c", j)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{as, bs, pspec(c)}, supervisor.WithClock(newClock()), supervisor.WithHook(rec.Hook()))
	v := serveAsync(t, s)
	a.waitStart(t, 1)
	b.waitStart(t, 1) // both launched while neither is ready
	openB()
	waitEvent(t, rec, supervisor.ChildStarted, "b", 1)
	wantStates(t, s, "a=starting", "b=running", "c=stopped")
	if c.incarnations() != 0 {
		t.Fatal("c started before the whole group was ready")
	}
	openA()
	recv(t, s.Ready(), "ready")
	c.waitStart(t, 1)
	v.cancel()
	if err := v.wait(t); err != nil {
		t.Fatal(err)
	}
	got := j.get()
	if i, k := slices.Index(got, "stop c"), slices.Index(got, "stop b"); i < 0 || k < i || slices.Index(got, "stop a") < k {
		t.Fatalf("journal %q: want c, b, a stopped in that order", got)
	}
}

// blockOnce is a zap core that blocks the n-th "child started" report until
// released: the supervisor logs on its own goroutine, so the loop waits there.
type blockOnce struct {
	zapcore.LevelEnabler
	n       int
	seen    *atomic.Int32
	blocked chan struct{} // closed when it blocks
	release chan struct{}
}

func (c *blockOnce) With([]zapcore.Field) zapcore.Core          { return c }
func (c *blockOnce) Sync() error                                { return nil }
func (c *blockOnce) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (c *blockOnce) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == "child started" && int(c.seen.Add(1)) == c.n {
		close(c.blocked)
		<-c.release
	}
	return ce
}

// A member's failure stops the rest of the group and the earlier siblings in
// reverse order; the error names every member that failed before that.
func TestStartGroupFailures(t *testing.T) {
	first := newProbe("first", nil)
	ok, oks, _ := gated(t, "ok", nil, "g")
	bad1 := newProbe("bad1", nil)
	bad1.onStart = func(context.Context, int) error { return errStartFail }
	bad2 := newProbe("bad2", nil)
	bad2.onStart = func(context.Context, int) error { return errBoom }
	b1, b2 := pspec(bad1), pspec(bad2)
	b1.StartGroup, b2.StartGroup = "g", "g"
	// last is a member that is not awaited: it counts as started when it is
	// launched, after the others, and its report holds the supervisor until
	// both failures are queued.
	last := child.Spec{ID: "last", Service: newProbe("last", nil), StartGroup: "g"}
	core := &blockOnce{LevelEnabler: zapcore.DebugLevel, n: 2, seen: new(atomic.Int32), blocked: make(chan struct{}), release: make(chan struct{})}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(first), oks, b1, b2, last}, supervisor.WithClock(newClock()),
		supervisor.WithHook(rec.Hook()), supervisor.WithLogger(zap.New(core)))
	v := serveAsync(t, s)
	recv(t, core.blocked, "the supervisor to report last's start")
	bad1.waitStart(t, 1) // running, so labelled: gone means its exit is queued
	bad2.waitStart(t, 1)
	waitGone(t, "root/bad1")
	waitGone(t, "root/bad2")
	close(core.release)
	err := v.wait(t)
	for _, e := range []error{errStartFail, errBoom} {
		if !errors.Is(err, e) {
			t.Errorf("Serve = %v, want it to name the failure %v", err, e)
		}
	}
	ok.waitStart(t, 1)
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1) // hooks see events in order: all are in
	for _, id := range []string{"bad1", "bad2"} {
		if n := rec.Count(supervisor.ChildStartFailed, id); n != 1 {
			t.Errorf("%d start_error events for %s, want 1: %v", n, id, kinds(rec.Events()))
		}
	}
	var stops []string
	for _, ev := range rec.Events() {
		if ev.Kind == supervisor.ChildStopped {
			stops = append(stops, ev.Child)
		}
	}
	if !slices.Equal(stops, []string{"last", "ok", "first"}) {
		t.Fatalf("stopped %v, want the rest of the group in reverse, then the earlier sibling", stops)
	}
}

// The group's deadline: a member that does not report ready within it fails
// the group with ErrStartTimeout.
func TestStartGroupDeadline(t *testing.T) {
	clock := newClock()
	_, as, _ := gated(t, "a", nil, "g")
	as.StartTimeout = time.Second
	b, bs, openB := gated(t, "b", nil, "g")
	bs.StartTimeout = 2 * time.Second
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{as, bs}, supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()))
	v := serveAsync(t, s)
	b.waitStart(t, 1)
	openB()
	waitEvent(t, rec, supervisor.ChildStarted, "b", 1)
	if err := clock.WaitForWaiters(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second) // the longest member budget
	err := v.wait(t)
	var se *supervisor.StartError
	if !errors.As(err, &se) || se.Child != "a" || !errors.Is(err, supervisor.ErrStartTimeout) {
		t.Fatalf("Serve = %v, want a's start timeout", err)
	}
}

// A stop during the parallel start stops every member and starts nothing more.
func TestStartGroupStopDuringStart(t *testing.T) {
	j := &journal{}
	a, as, _ := gated(t, "a", j, "g")
	b, bs, _ := gated(t, "b", j, "g")
	c := newProbe("c", j)
	s := mustNew(t, "root", []child.Spec{as, bs, pspec(c)}, supervisor.WithClock(newClock()))
	v := serveAsync(t, s)
	a.waitStart(t, 1)
	b.waitStart(t, 1)
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := v.wait(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if c.incarnations() != 0 {
		t.Fatal("c started after the stop")
	}
}

// The members of a start group must be adjacent.
func TestStartGroupMustBeAdjacent(t *testing.T) {
	a, b, c := newProbe("a", nil), newProbe("b", nil), newProbe("c", nil)
	as, bs, cs := pspec(a), pspec(b), pspec(c)
	as.StartGroup, cs.StartGroup = "g", "g"
	_, err := supervisor.New("root", []child.Spec{as, bs, cs})
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "StartGroup" || se.ID != "c" {
		t.Fatalf("New = %v, want a SpecError on c's StartGroup", err)
	}
}
