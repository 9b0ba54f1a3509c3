package model_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// waitTimeout bounds every wait of the harness, so that a supervisor that
// does not do what the model says fails the test instead of hanging it. It
// is never a timing assertion: on a healthy run every wait ends at once.
const waitTimeout = 20 * time.Second

var (
	errModel = errors.New("model: injected error")
	errStart = errors.New("model: injected start failure")
)

// tb is what the harness needs of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// incarn is one live incarnation of a test child: the harness ends it by
// sending the exit it must take.
type incarn struct{ exit chan exitKind }

// live tracks, from the children's side, which incarnations run.
type live struct {
	mu       sync.Mutex
	m        map[string][]*incarn
	failNext map[string]bool
}

// takeFail reports whether this start of id must fail, and clears it.
func (l *live) takeFail(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failNext[id]
	delete(l.failNext, id)
	return f
}

func (l *live) add(id string, in *incarn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[id] = append(l.m[id], in)
}

func (l *live) del(id string, in *incarn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[id] = slices.DeleteFunc(l.m[id], func(x *incarn) bool { return x == in })
	if len(l.m[id]) == 0 {
		delete(l.m, id)
	}
}

func (l *live) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for id, ins := range l.m {
		out[id] = len(ins)
	}
	return out
}

func (l *live) only(id string) *incarn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m[id]) != 1 {
		return nil
	}
	return l.m[id][0]
}

// service is a child that registers each incarnation before it reports
// ready and unregisters it before it returns, and otherwise waits for the
// harness to tell it how to exit, or for its context to end.
func (l *live) service(id string) child.Service {
	return child.Func(func(ctx context.Context) error {
		if l.takeFail(id) {
			return errStart // before it is ready: a failed start
		}
		in := &incarn{exit: make(chan exitKind)}
		l.add(id, in)
		defer l.del(id, in)
		child.Ready(ctx)
		select {
		case k := <-in.exit:
			switch k {
			case exitShutdown:
				return child.Shutdownf("model")
			case exitError:
				return errModel
			case exitPanic:
				panic("model: injected panic")
			case exitGoexit:
				runtime.Goexit()
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// harness runs one sequence against a real supervisor and the model.
type harness struct {
	t        tb
	ctx      context.Context
	cancel   context.CancelFunc
	cfg      config
	m        *model
	sup      *supervisor.Supervisor
	rec      *supervisortest.Recorder
	clock    *supervisortest.Clock
	live     *live
	notify   chan struct{} // signalled after each event the recorder took
	serveErr chan error
	served   error
	returned bool
	steps    []string
}

func newHarness(t tb, cfg config) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	h := &harness{
		t: t, ctx: ctx, cancel: cancel, cfg: cfg,
		rec:      supervisortest.NewRecorder(),
		clock:    supervisortest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		live:     &live{m: map[string][]*incarn{}, failNext: map[string]bool{}},
		notify:   make(chan struct{}, 1),
		serveErr: make(chan error, 1),
	}
	var specs []child.Spec
	for i, r := range cfg.children {
		id := fmt.Sprintf("c%d", i)
		specs = append(specs, child.Spec{ID: id, Service: h.live.service(id), Restart: r, AwaitReady: true, Significant: cfg.isSignificant(i)})
	}
	sup, err := supervisor.New("model", specs,
		supervisor.WithAutoShutdown(cfg.auto),
		supervisor.WithStrategy(cfg.strategy),
		supervisor.WithIntensity(cfg.intensity),
		supervisor.WithClock(h.clock),
		supervisor.WithHook(h.rec.Hook()),
		supervisor.WithHook(func(supervisor.Event) { // after the recorder's: hooks run in order
			select {
			case h.notify <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		cancel()
		t.Fatalf("New(%v): %v", cfg, err)
	}
	h.sup = sup
	go func() { h.serveErr <- sup.Serve(context.Background()) }()
	h.m = newModel(cfg, h.clock.Now())
	h.check()
	return h
}

// close stops the supervisor if it still runs; it is deferred, so a failed
// sequence leaves nothing behind.
func (h *harness) close() {
	defer h.cancel()
	if !h.returned {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = h.sup.Stop(ctx)
		select {
		case h.served = <-h.serveErr:
			h.returned = true
		case <-ctx.Done():
		}
	}
}

func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("%s\nconfig: %v\nsteps:\n  %s", fmt.Sprintf(format, args...), h.cfg, strings.Join(h.steps, "\n  "))
}

// do runs one step on both sides and compares them.
func (h *harness) do(a action) {
	h.t.Helper()
	if h.m.done {
		return
	}
	h.steps = append(h.steps, a.String())
	var got, want error
	switch a.op {
	case opExit:
		c := h.m.find(a.id)
		if c == nil || !c.running {
			h.steps[len(h.steps)-1] += " (skipped: not running)"
			return
		}
		in := h.live.only(a.id)
		if in == nil {
			h.fatalf("%s: the model runs %s#%d, the children's side has %d incarnations", a, c.id, c.inc, h.live.snapshot()[a.id])
		}
		select {
		case in.exit <- a.exit:
		case <-h.ctx.Done():
			h.fatalf("%s: the incarnation did not take its exit", a)
		}
		h.m.exit(c, a.exit)
	case opTerminate:
		got, want = h.sup.TerminateChild(h.ctx, a.id), h.m.terminate(a.id)
	case opRestart:
		got, want = h.sup.RestartChild(h.ctx, a.id), h.m.restartChild(a.id)
	case opDelete:
		got, want = h.sup.DeleteChild(h.ctx, a.id), h.m.deleteChild(a.id)
	case opStart:
		spec := child.Spec{ID: a.id, Service: h.live.service(a.id), Restart: a.restart, AwaitReady: true}
		got, want = h.sup.StartChild(h.ctx, spec), h.m.startChild(a.id, a.restart)
	case opAdvance:
		h.clock.Advance(a.d)
		h.m.now = h.m.now.Add(a.d)
	case opFailStart:
		h.live.mu.Lock()
		h.live.failNext[a.id] = true
		h.live.mu.Unlock()
		h.m.failNext[a.id] = true
	}
	if !sameErr(got, want) {
		h.fatalf("%s returned %v, the model says %v", a, got, want)
	}
	h.check()
}

// finish stops the supervisor (unless it gave up) and checks the end.
func (h *harness) finish() {
	h.t.Helper()
	if !h.m.done {
		h.steps = append(h.steps, "Stop")
		h.m.stopAll()
		if err := h.sup.Stop(h.ctx); err != nil {
			h.fatalf("Stop: %v", err)
		}
	}
	h.check()
}

// check waits until the supervisor has reported every event the model
// expects, then compares the events, the children, the intensity window and
// the live incarnations.
func (h *harness) check() {
	h.t.Helper()
	// Wait, event by event, until the recorder holds as many events as the
	// model expects, failing at the first one that differs.
	for {
		got := h.rec.Events()
		for i, ev := range got {
			if i >= len(h.m.events) || project(ev) != h.m.events[i] {
				h.fatalf("events differ from the model\n%s", h.eventDiff())
			}
		}
		if len(got) == len(h.m.events) {
			break
		}
		select {
		case <-h.notify:
		case <-h.ctx.Done():
			h.fatalf("waiting for event %d (%v): %v\n%s", len(got), h.m.events[len(got)], h.ctx.Err(), h.eventDiff())
		}
	}
	if h.m.done {
		h.checkServeResult()
	} else {
		h.checkChildren()
	}
	h.checkLive()
}

func (h *harness) eventDiff() string {
	var b strings.Builder
	got := h.rec.Events()
	for i := range max(len(got), len(h.m.events)) {
		g, w := "-", "-"
		if i < len(got) {
			g = project(got[i]).String()
		}
		if i < len(h.m.events) {
			w = h.m.events[i].String()
		}
		mark := "  "
		if g != w {
			mark = "!="
		}
		fmt.Fprintf(&b, "  %2d %s %-40s model: %s\n", i, mark, g, w)
	}
	return b.String()
}

func (h *harness) checkServeResult() {
	h.t.Helper()
	if !h.returned {
		select {
		case h.served = <-h.serveErr:
			h.returned = true
		case <-h.ctx.Done():
			h.fatalf("Serve did not return")
		}
	}
	if h.m.gaveUp == "" {
		if h.served != nil {
			h.fatalf("Serve returned %v after Stop, want nil", h.served)
		}
		return
	}
	var gu *supervisor.GiveUpError
	if !errors.As(h.served, &gu) || !errors.Is(h.served, escalation.ErrExceeded) || gu.Child != h.m.gaveUp {
		h.fatalf("Serve returned %v, want a *GiveUpError for %s", h.served, h.m.gaveUp)
	}
}

func (h *harness) checkChildren() {
	h.t.Helper()
	infos, err := h.sup.Children(h.ctx)
	if err != nil {
		h.fatalf("Children: %v", err)
	}
	var got, want []string
	for _, ci := range infos {
		got = append(got, fmt.Sprintf("%s %s restarts=%d", ci.ID, ci.State, ci.Restarts))
	}
	for _, c := range h.m.children {
		st := supervisor.StateStopped
		if c.running {
			st = supervisor.StateRunning
		}
		want = append(want, fmt.Sprintf("%s %s restarts=%d", c.id, st, c.restarts))
	}
	if !slices.Equal(got, want) {
		h.fatalf("Children:\n  got  %v\n  want %v", got, want)
	}
	info, err := h.sup.Info(h.ctx)
	if err != nil {
		h.fatalf("Info: %v", err)
	}
	if info.InWindow != h.m.inWindow() {
		h.fatalf("Info.InWindow %d, the model says %d", info.InWindow, h.m.inWindow())
	}
}

func (h *harness) checkLive() {
	h.t.Helper()
	want := map[string]int{}
	if !h.m.done {
		for _, c := range h.m.children {
			if c.running {
				want[c.id] = 1
			}
		}
	}
	got := h.live.snapshot()
	if len(got) != len(want) {
		h.fatalf("live incarnations %v, the model runs %v", got, want)
	}
	for id, n := range want {
		if got[id] != n {
			h.fatalf("live incarnations %v, the model runs %v", got, want)
		}
	}
}
