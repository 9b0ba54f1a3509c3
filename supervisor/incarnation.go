package supervisor

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/internal/control"
	"github.com/arborgo/arbor/internal/runner"
)

// incarnation is one call of a child's Serve. It is both the context Serve
// gets and the child's control.Control: it wraps its own cancellable context
// and answers the control lookup with itself (see Value), which saves a
// context.WithValue per incarnation.
type incarnation struct {
	context.Context // immutable: cancelled by cancel, parent e.base
	e               *entry
	r               *run
	cancel          context.CancelFunc
	n               uint64 // its number among its child's incarnations in the run (Event.Incarnation)

	readied atomic.Bool

	// Owned by the run goroutine (next to readied, to keep the struct small).
	exited    bool // its exit message has arrived
	handled   bool // the supervisor has dealt with its end
	abandoned bool
	waited    bool // cancelled by the supervisor, which waits for its exit
	started   time.Time

	stopBy atomic.Int64 // UnixNano of the stop deadline; 0 while not stopping or unbounded
}

var _ control.Control = (*incarnation)(nil)

// msg is what an incarnation tells the loop: it is ready, or it exited with err.
type msg struct {
	inc  *incarnation
	exit bool
	err  error
	ack  chan struct{} // a ready: closed by the loop once it has taken the ready in
}

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
// and for callerKey, and otherwise what its cancellable context holds, so that
// context's own lookups (its cancellation, a derived context's parent) still
// find it.
func (i *incarnation) Value(key any) any {
	if key == (callerKey{}) {
		return i
	}
	v := i.Context.Value(key)
	if v == any(controlMark) {
		return i
	}
	return v
}

// String describes the context as the context package would.
func (i *incarnation) String() string {
	return fmt.Sprint(i.Context) + ".WithValue(control, " + i.e.path + ")"
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
	case i.r.msgs <- msg{inc: i, ack: ack}:
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
	ctx, cancel := context.WithCancel(e.base)
	e.incs++
	inc := &incarnation{Context: ctx, e: e, r: r, cancel: cancel, n: e.incs, started: r.clock.Now()}
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
	select {
	case i.r.msgs <- msg{inc: i, exit: true, err: err}:
	case <-i.r.done:
	}
}
