package supervisor

import (
	"context"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/internal/control"
	"github.com/arborgo/arbor/internal/runner"
)

// incarnation is one call of a child's Serve. It is the context Serve gets
// (a context of its own, cancelled by cancel, whose values are e.base's) and
// the child's control.Control (it answers the control lookup with itself; see
// Value): one allocation per start, where a context.WithCancel, its cancel
// function and a context.WithValue would take several. Its parent, e.base,
// carries values only and is never done, so it has no cancellation to
// follow; contexts derived from it are cancelled through AfterFunc, with no
// goroutine of their own.
type incarnation struct {
	parent context.Context // immutable: e.base
	e      *entry
	r      *run
	n      uint64 // its number among its child's incarnations in the run (Event.Incarnation)
	label  string // its LabelIncarnation value under WithLeakCheck; "" otherwise

	// done points to doneCh, or to closedDone when cancel comes before any
	// Done; set once, under mu, and read without it.
	done   atomic.Pointer[chan struct{}]
	doneCh chan struct{} // made by the first Done, under mu, before done points to it; closed by cancel
	mu     sync.Mutex
	err    error        // guarded by mu: context.Canceled once cancelled
	after  []*afterFunc // guarded by mu: functions to run when cancelled (AfterFunc)

	readied atomic.Bool

	// Owned by the run goroutine (next to readied, to keep the struct small).
	exited    bool // its exit message has arrived
	handled   bool // the supervisor has dealt with its end
	abandoned bool
	waited    bool  // cancelled by the supervisor, which waits for its exit
	cutEarly  bool  // cancelled by a shutdown cut at its deadline before the supervisor got to it
	exitErr   error // what it returned, once its exit has been noted (deferred)
	started   time.Time

	stopBy atomic.Int64 // UnixNano of the stop deadline; 0 while not stopping or unbounded
}

var (
	_ control.Control      = (*incarnation)(nil)
	_ control.TermReporter = (*incarnation)(nil)
	_ context.Context      = (*incarnation)(nil)
)

// msg is one message in a run's inbox, of one of the kinds below: an
// incarnation is ready, or it exited with err; an API call; a wake-up.
type msg struct {
	inc  *incarnation
	err  error
	ack  chan struct{} // msgReady: closed by the loop once it has taken the ready in
	call *call         // msgCall
	kind msgKind
	gen  uint32 // msgWake: the arming of the restart timer that fired (see arm); 0 for a stop
}

// msgKind tells what a msg is.
type msgKind uint8

const (
	msgExit  msgKind = iota // an incarnation returned with err
	msgReady                // an awaited incarnation called child.Ready
	msgCall                 // an API call
	// msgWake wakes the loop so that it looks at its state again: a stop was
	// asked for (Stop, the end of Serve's ctx), or a restart may be due.
	// It carries nothing the loop would miss if it were lost: the stop
	// channel and the queue of pending restarts stay the truth, and the
	// loop looks at them before every wait (see run.loop).
	msgWake
)

// controlMark is the control.Control installed once per run below every
// entry's context (see runBase). An incarnation's Value replaces it with the
// incarnation itself, so that the control found from an incarnation's context,
// or from any context derived from it, is always that incarnation's. Nothing
// else reaches it: the run's base context is only ever the parent of
// incarnations. Should it be reached anyway, it behaves as "outside a
// supervisor".
var controlMark control.Control = &markControl{}

type markControl struct{}

func (*markControl) Ready() {}

func (*markControl) StopDeadline() (time.Time, bool) { return time.Time{}, false }

func (*markControl) Path() string { return "" }

// Value returns the incarnation itself for the control key of package child
// and for callerKey, and otherwise what its parent holds.
func (i *incarnation) Value(key any) any {
	if key == (callerKey{}) {
		return i
	}
	v := i.parent.Value(key)
	if v == any(controlMark) {
		return i
	}
	return v
}

// Deadline reports none: a child's deadline is its stop deadline, which
// child.StopDeadline tells once the supervisor asks it to stop.
func (i *incarnation) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel closed when the supervisor cancels the incarnation.
func (i *incarnation) Done() <-chan struct{} {
	if d := i.done.Load(); d != nil {
		return *d
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if d := i.done.Load(); d != nil {
		return *d
	}
	// The channel lives in the incarnation: one allocation, not two.
	i.doneCh = make(chan struct{})
	i.done.Store(&i.doneCh)
	return i.doneCh
}

// Err returns context.Canceled once the incarnation is cancelled, else nil.
func (i *incarnation) Err() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.err
}

// closedDone is the Done channel of an incarnation cancelled before anyone
// asked for it.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// cancel cancels the incarnation: Done is closed, Err says
// context.Canceled, and the functions registered with AfterFunc run, each on
// a goroutine of its own, as context.AfterFunc's do. Later calls do nothing.
func (i *incarnation) cancel() {
	i.mu.Lock()
	if i.err != nil {
		i.mu.Unlock()
		return
	}
	i.err = context.Canceled
	if d := i.done.Load(); d != nil {
		close(*d)
	} else {
		i.done.Store(&closedDone) // never written: shared by all
	}
	after := i.after
	i.after = nil
	i.mu.Unlock()
	for _, a := range after {
		go a.f() // ends when f returns, as with context.AfterFunc
	}
}

// afterFunc is one registration of AfterFunc.
type afterFunc struct{ f func() }

// AfterFunc arranges for f to run on a goroutine of its own once the
// incarnation is cancelled, and returns a function that unregisters it,
// reporting whether that stopped f from running. The context package uses it
// for contexts derived from the incarnation (context.WithCancel and the like
// spawn no goroutine to follow it), and so does context.AfterFunc.
func (i *incarnation) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	i.mu.Lock()
	if i.err != nil {
		i.mu.Unlock()
		go f() // ends when f returns
		return func() bool { return false }
	}
	i.after = append(i.after, a)
	i.mu.Unlock()
	return func() bool {
		i.mu.Lock()
		defer i.mu.Unlock()
		k := slices.Index(i.after, a)
		if k < 0 {
			return false // already run, or already stopped
		}
		i.after = slices.Delete(i.after, k, k+1)
		return true
	}
}

// String describes the context.
func (i *incarnation) String() string {
	return "arbor incarnation " + strconv.FormatUint(i.n, 10) + " of " + i.e.path
}

// Ready tells the loop and returns once the loop has taken it in: from then
// on the supervisor no longer waits on this child, so a call the child makes
// next is not refused with ErrBusyWithCaller. The wait is bounded by the
// incarnation's context (a stop) and the run's end.
func (i *incarnation) Ready() {
	if !i.e.spec.AwaitReady || !i.readied.CompareAndSwap(false, true) {
		return
	}
	ack := make(chan struct{})
	select {
	case i.r.msgs <- msg{inc: i, kind: msgReady, ack: ack}:
	case <-i.r.done:
		return
	}
	select {
	case <-ack:
	case <-i.Done():
	case <-i.r.done:
	}
}

func (i *incarnation) StopDeadline() (time.Time, bool) {
	if n := i.stopBy.Load(); n != 0 {
		return time.Unix(0, n), true
	}
	return time.Time{}, false
}

func (i *incarnation) Path() string { return i.e.path }

// launch starts a new incarnation of e on a goroutine of its own. A child
// that is not awaited counts as started at once; its bookkeeping is done
// before the goroutine starts, so that the new goroutine can run straight
// away on this core while the loop goes back to waiting.
func (r *run) launch(e *entry) *incarnation {
	e.incs++
	inc := &incarnation{parent: e.base, e: e, r: r, n: e.incs, started: r.clock.Now()}
	if r.opts.leakGrace > 0 {
		inc.label = r.leakLabel(inc)
		inc.parent = pprof.WithLabels(e.base, pprof.Labels(LabelIncarnation, inc.label))
	}
	e.inc = inc
	if !e.spec.AwaitReady {
		r.started(e)
	}
	// Ends when the child's Serve returns. Its exit message is received by the
	// loop, or dropped once the run is over (done), so it never blocks for ever.
	go inc.run()
	return inc
}

// run runs the incarnation on its own goroutine.
func (i *incarnation) run() {
	pprof.SetGoroutineLabels(i)
	if i.r.opts.crashOnPanic {
		runner.RunCrashing(i, i.e.spec.Service, i.exit)
		return
	}
	runner.Run(i, i.e.spec.Service, i.exit)
}

// exit reports the incarnation's end to the loop.
func (i *incarnation) exit(err error) {
	// Cancel before the loop can see the exit: anything tied to this
	// incarnation's context (registry names) is gone by the time the
	// supervisor handles the exit and starts a replacement.
	i.cancel()
	if i.label != "" {
		i.r.leaks.schedule(i)
	}
	select {
	case i.r.msgs <- msg{inc: i, kind: msgExit, err: err}:
	case <-i.r.done:
	}
}

// termKinds maps a singleton's term change to its event.
var termKinds = [...]EventKind{
	control.TermBegun:    LeadershipAcquired,
	control.TermLost:     LeadershipLost,
	control.TermReleased: LeadershipReleased,
}

// ReportTerm reports a change of the term of the cluster singleton this
// incarnation runs (package cluster calls it, on the incarnation's
// goroutine). The event is emitted from here, like a leak report: its
// fields are immutable or the incarnation's own, and emitting is safe from
// any goroutine. A term that ends after its supervisor's run did (an
// abandoned singleton letting go at last) is still reported: it is when
// another node may be promoted.
func (i *incarnation) ReportTerm(t control.Term) {
	if int(t.Change) >= len(termKinds) {
		return
	}
	e, r := i.e, i.r
	term := &Term{Name: t.Name, Key: t.Key, Revision: t.Revision}
	r.termMu.Lock()
	if t.Change == control.TermBegun {
		if r.terms == nil {
			r.terms = make(map[*incarnation]*Term)
		}
		r.terms[i] = term
	} else {
		delete(r.terms, i)
	}
	r.termMu.Unlock()
	r.emit(Event{Kind: termKinds[t.Change], Child: e.spec.ID, Template: e.template, Incarnation: i.n,
		Restart: e.spec.Restart, Err: t.Err, Term: term})
}
