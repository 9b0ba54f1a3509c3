package supervisor

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arborgo/arbor/child"
)

// startAll starts the children one at a time in declared order (OTP's init).
func (r *run) startAll() error {
	if d := r.opts.startTimeout; d > 0 {
		r.startDeadline = r.clock.Now().Add(d)
	}
	defer func() { r.startDeadline = time.Time{} }()
	list := slices.Clone(r.ordered())
	for i := 0; i < len(list); i++ {
		if g := list[i].spec.StartGroup; g != "" {
			j := i + 1
			for j < len(list) && list[j].spec.StartGroup == g {
				j++
			}
			if err := r.startParallel(list[i:j]); err != nil {
				return err
			}
			i = j - 1
			continue
		}
		e := list[i]
		err := r.startChild(e)
		switch {
		case err == nil:
		case errors.Is(err, errIgnored):
			if e.spec.Restart == child.Temporary {
				r.remove(e)
			}
		case errors.Is(err, ErrStopping):
			return err
		default:
			r.emit(r.childEvent(ChildStartFailed, e, err))
			return &StartError{Supervisor: r.path, Child: e.spec.ID, Err: err}
		}
	}
	return nil
}

// startBudget returns how long to wait for e's readiness, and false for no limit.
func (r *run) startBudget(e *entry) (time.Duration, bool) {
	d, ok := e.spec.StartTimeout, e.spec.StartTimeout != child.Infinity
	if !r.startDeadline.IsZero() {
		left := r.startDeadline.Sub(r.clock.Now())
		if !ok || left < d {
			d, ok = max(left, 0), true
		}
	}
	return d, ok
}

// startChild starts one incarnation of e and, if e is awaited, waits for its
// readiness. It returns nil once started, errIgnored if the child declined,
// ErrStopping if a stop arrived meanwhile, or the reason the start failed.
// Meanwhile other exits are deferred and read-only calls answered.
func (r *run) startChild(e *entry) error { return r.startChildUntil(e, nil) }

// errCallerGone is startChildUntil's result when the caller's ctx ended
// during the start; the child has been stopped.
var errCallerGone = errors.New("caller gone")

// startChildUntil is startChild that also gives up when gone is closed (the
// caller's ctx ended): it then stops the child and returns errCallerGone.
func (r *run) startChildUntil(e *entry, gone <-chan struct{}) error {
	if r.stopRequested() {
		return ErrStopping // nothing is launched once a stop is asked for
	}
	inc := r.launch(e)
	if !e.spec.AwaitReady {
		return nil
	}
	if e.state != StateRestarting {
		e.state = StateStarting
	}
	budget, bounded := r.startBudget(e)
	var timer <-chan time.Time
	if bounded {
		// The budget runs from the launch.
		timer = r.waitFor(max(budget-r.clock.Now().Sub(inc.started), 0))
		defer r.endWait()
	}
	for {
		var m msg
		select {
		case m = <-r.msgs:
		case <-timer:
			missed := fmt.Errorf("%w: no child.Ready within %v (AwaitReady is set: Serve must call child.Ready(ctx) with the ctx it was given, once it has started)", ErrStartTimeout, budget)
			if err := r.stopChild(e); err != nil {
				return errors.Join(missed, err)
			}
			return missed
		case <-r.stopC:
			return r.stopWhileStarting(e)
		case <-r.serveCtx.Done():
			return r.stopWhileStarting(e)
		case <-gone:
			r.drainMsgs(r.note, e.path)
			_ = r.stopChild(e) // an abandoned child is reported by its event
			return errCallerGone
		}
		if r.aside(m, e.path) {
			continue
		}
		if m.inc != inc {
			r.note(m)
			continue
		}
		if m.kind == msgReady {
			r.started(e)
			close(m.ack) // child.Ready returns: the wait on it is over
			return nil
		}
		return r.endedBeforeReady(inc, m.err)
	}
}

// endedBeforeReady records an awaited incarnation that ended before it
// reported ready, and returns why its start did not complete: errIgnored
// for child.ErrIgnore (OTP's ignore), else the failure.
func (r *run) endedBeforeReady(inc *incarnation, err error) error {
	e := inc.e
	inc.exited, inc.handled = true, true
	e.inc, e.state = nil, StateStopped
	r.setExit(e, err, false)
	switch {
	case errors.Is(err, child.ErrIgnore):
		r.emit(r.childEvent(ChildIgnored, e, nil))
		return errIgnored
	case err == nil:
		return errors.New("returned before it was ready")
	default:
		return fmt.Errorf("exited before it was ready: %w", err)
	}
}

// stopWhileStarting stops a child whose start a stop request interrupted,
// within the shutdown's limit (an abandonment goes into Serve's result; see
// stopChild). Messages already queued are taken first, so that an exit that
// came before the stop request is handled as the exit it was.
func (r *run) stopWhileStarting(e *entry) error {
	r.drainMsgs(r.note, e.path)
	_ = r.stopChild(e)
	return ErrStopping
}

// drainMsgs hands every incarnation's message already queued to handle,
// without waiting; the others are handled as aside says, for a wait on busy.
func (r *run) drainMsgs(handle func(msg), busy string) {
	for {
		select {
		case m := <-r.msgs:
			if !r.aside(m, busy) {
				handle(m)
			}
		default:
			return
		}
	}
}

func (r *run) started(e *entry) {
	e.state = StateRunning
	r.emitSince(r.childEvent(ChildStarted, e, nil), e.inc.started)
}

// note records a message that arrived while the loop waited on another
// incarnation; exits are handled once the wait is over.
func (r *run) note(m msg) {
	if m.kind == msgExit {
		m.inc.exited, m.inc.exitErr = true, m.err
		r.deferred = append(r.deferred, m)
		return
	}
	close(m.ack) // a ready nobody awaits any more: taken in all the same
}

// handleReqWhileBusy handles a call that arrives while the loop waits on one
// child (busy is its path; all children's during a simple_one_for_one
// shutdown). Read-only calls are answered; others wait for the end of that
// start or stop, except those that cannot: a call once a stop is asked for
// gets ErrStopping at once, and one from the awaited child itself (or from
// below it, known by the context it passed) gets ErrBusyWithCaller, since
// waiting for it would deadlock.
func (r *run) handleReqWhileBusy(q *request, busy string) {
	switch {
	case q.op.readOnly():
		r.handleReq(q)
	case r.stopping || r.stopRequested():
		q.reply <- response{err: ErrStopping}
	case q.caller.below(r, busy):
		q.reply <- response{err: fmt.Errorf("%w: %s", ErrBusyWithCaller, busy)}
	default:
		r.deferredReqs = append(r.deferredReqs, q)
	}
}

// stopChild stops e's running incarnation: it cancels its context and waits
// up to its shutdown budget. Once a stop of the supervisor is asked for, the
// wait is also bounded by the shutdown's limit, whatever began it (a
// TerminateChild, a group restart, Apply, a start timeout), and shortened
// whenever a Stop caller brings that limit forward. A child still running
// at the end of the wait is abandoned and reported, and a *StopTimeoutError
// returned; while a stop of the supervisor is pending, it also goes into
// Serve's result, so that the caller of Stop learns of it. Meanwhile other
// exits are deferred and read-only calls answered.
func (r *run) stopChild(e *entry) error {
	inc := e.inc
	if inc == nil {
		return nil
	}
	e.inc, e.state, inc.handled = nil, StateStopped, true
	if inc.exited {
		// It ended by itself before the supervisor got to it (its exit is
		// still deferred, and will be skipped). OTP reports an abnormal reason
		// as a shutdown_error; nothing is restarted.
		r.stoppedEarly(inc)
		return nil
	}
	now := r.clock.Now()
	w := r.newStopWait(e.spec.Shutdown, now)
	e.state, inc.waited = StateStopping, true
	w.publish(inc)
	inc.cancel()
	// No yield to the child first (runtime.Gosched): a yielding loop goes to
	// the global run queue, and on a busy machine it waited there about a
	// scheduling quantum per child (BenchmarkRestartBesideBusyGoroutines).
	w.startTimer()
	defer r.endWait()
	for {
		var m msg
		select {
		case m = <-r.msgs:
		case <-w.stopC:
			w.stopC = nil
			w.tighten(inc)
			continue
		case <-w.ctxDone:
			w.ctxDone = nil
			w.tighten(inc)
			continue
		case <-r.stopNote:
			w.tighten(inc)
			continue
		case <-w.timer:
			if w.cut && r.stopping {
				// The shutdown's deadline has passed: every other child is
				// cut too. Cancel them now, before the report (a profile, a
				// log line) takes its time: a parent cut at the same moment
				// may restart this supervisor meanwhile, and an old
				// incarnation's context must be cancelled before its
				// replacement starts.
				r.cancelRunning()
			}
			return errors.Join(r.abandon([]*incarnation{inc}, w, now, e.path)...)
		}
		if r.aside(m, e.path) {
			continue
		}
		if m.inc != inc || m.kind != msgExit {
			r.note(m)
			continue
		}
		return r.stopped(inc, m.err, now)
	}
}

// cancelRunning cancels the context of every running incarnation of the run,
// during a shutdown whose deadline has passed, without waiting: the
// shutdown goes on to cut them, and counts what they return as the stop it
// asked for.
func (r *run) cancelRunning() {
	for _, e := range r.byID {
		if inc := e.inc; inc != nil {
			inc.cutEarly = true
			inc.cancel()
		}
	}
	r.cutOnce.Do(func() { close(r.cut) })
}

// abandonments appends every *StopTimeoutError in err's tree to out.
func abandonments(err error, out []error) []error {
	switch e := err.(type) {
	case nil:
	case *StopTimeoutError:
		out = append(out, e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			out = abandonments(inner, out)
		}
	case interface{ Unwrap() error }:
		out = abandonments(e.Unwrap(), out)
	}
	return out
}

// stoppedEarly reports an incarnation whose exit came in before the
// supervisor got to stop it (its message is deferred, and will be skipped).
// OTP reports an abnormal reason as a shutdown_error; nothing is restarted.
// One whose context a cut shutdown had already cancelled (cutEarly) returned
// because it was asked to: a clean stop.
func (r *run) stoppedEarly(inc *incarnation) {
	returned := inc.exitErr
	ev := r.incEvent(ChildStopped, inc, nil)
	if !child.IsNormal(returned) && !inc.cutEarly {
		ev.Err = returned
	}
	ev.Returned = returned
	r.emit(ev)
}

// stopped records the return of an incarnation the supervisor cancelled and
// waited for (since when): whatever it returned is a clean stop, except a
// panic or Goexit while stopping. A nested supervisor that had to abandon
// some of its own children says so in its result; that is returned, and
// passed on, so an abandonment deep in the tree reaches the root's Stop.
func (r *run) stopped(inc *incarnation, err error, since time.Time) (nested error) {
	e := inc.e
	inc.exited, inc.waited = true, false
	e.state = StateStopped
	r.setExit(e, err, true)
	if errors.Is(err, ErrStopTimeout) {
		// Only its abandonments: a nested supervisor stopped while it was
		// cleaning up after a failed start also returns that *StartError,
		// which is no result of this stop.
		nested = errors.Join(abandonments(err, nil)...)
		r.keepForStop(nested)
	}
	ev := r.incEvent(ChildStopped, inc, cmp.Or(panicOrGoexit(err), nested))
	ev.Returned = err
	r.emitSince(ev, since)
	return nested
}

// stopWait is the deadline of one wait for children to return: their
// shutdown budget, cut by the shutdown's limit, which a stop request can
// bring forward while the wait goes on.
type stopWait struct {
	r        *run
	shutdown time.Duration // the children's Shutdown setting
	start    time.Time
	end      time.Time // zero: unbounded
	cut      bool      // end is the shutdown's limit, not the budget
	timer    <-chan time.Time
	stopC    <-chan struct{} // nil once seen
	ctxDone  <-chan struct{} // nil once seen
}

func (r *run) newStopWait(shutdown time.Duration, now time.Time) *stopWait {
	w := &stopWait{r: r, shutdown: shutdown, start: now, stopC: r.stopC, ctxDone: r.serveCtx.Done()}
	if shutdown != child.Infinity {
		w.end = now
		if shutdown != child.BrutalKill {
			w.end = now.Add(shutdown)
		}
	}
	if limit := r.stopLimit(); !limit.IsZero() && (w.end.IsZero() || limit.Before(w.end)) {
		w.end, w.cut = limit, true
	}
	return w
}

// arm publishes the deadline to the incarnations (child.StopDeadline) and
// starts the timer.
func (w *stopWait) arm(incs ...*incarnation) {
	w.publish(incs...)
	w.startTimer()
}

// publish tells the incarnations the deadline (child.StopDeadline).
func (w *stopWait) publish(incs ...*incarnation) {
	if w.end.IsZero() {
		return
	}
	for _, inc := range incs {
		inc.stopBy.Store(w.end.UnixNano())
	}
}

// startTimer starts the timer that fires at the deadline.
func (w *stopWait) startTimer() {
	if w.end.IsZero() {
		return
	}
	w.timer = w.r.waitFor(max(w.end.Sub(w.r.clock.Now()), 0))
}

// tighten brings the deadline forward to the shutdown's limit if that is
// earlier, once a stop is asked for or its deadline moves.
func (w *stopWait) tighten(incs ...*incarnation) {
	limit := w.r.stopLimit()
	if limit.IsZero() || (!w.end.IsZero() && !limit.Before(w.end)) {
		return
	}
	w.end, w.cut = limit, true
	w.arm(incs...)
}

// budget is how long the children were given: what an abandoned one overran.
func (w *stopWait) budget() time.Duration { return max(w.end.Sub(w.start), 0) }

// abandon gives up on the incarnations still running at the end of a stop
// wait. It first takes the exits already queued, then one goroutine profile
// for all the others, so a step that abandons many children costs one
// profile, not one per child. It returns the *StopTimeoutErrors (none for
// BrutalKill, which never waits). busy is the wait's, as for handleReqWhileBusy.
func (r *run) abandon(incs []*incarnation, w *stopWait, since time.Time, busy string) []error {
	var errs []error
	r.drainMsgs(func(m msg) {
		if m.kind == msgExit && m.inc.waited {
			if nested := r.stopped(m.inc, m.err, since); nested != nil {
				errs = append(errs, nested)
			}
		} else {
			r.note(m)
		}
	}, busy)
	var stacks func(path string) string
	for _, inc := range incs {
		if !inc.waited {
			continue // returned in time after all
		}
		e := inc.e
		e.state = StateStopped
		inc.waited, inc.abandoned = false, true
		e.abandoned++
		if w.shutdown == child.BrutalKill && !w.cut {
			// Expected: BrutalKill never waits. Reported without an error.
			r.emit(r.incEvent(ChildAbandoned, inc, nil))
			continue
		}
		if stacks == nil {
			// One profile, begun after the cut, may serve every supervisor
			// of the tree that cuts at this moment.
			cutAt := time.Now().Add(w.end.Sub(r.clock.Now()))
			stacks = takeStacks(r.tree, cutAt)
		}
		err := &StopTimeoutError{Supervisor: r.path, Child: e.spec.ID, Budget: w.budget(), Deadline: w.cut, Stacks: stacks(e.path)}
		r.emitSince(r.incEvent(ChildAbandoned, inc, err), since)
		r.keepForStop(err)
		errs = append(errs, err)
	}
	return errs
}

// keepForStop keeps an abandonment for Serve's result when a stop is pending
// and the shutdown is not the one collecting it: the stop of a child that
// was under way when Stop was called, and that Stop's deadline cut.
func (r *run) keepForStop(err error) {
	if !r.stopping && r.stopRequested() {
		r.stopErrs = append(r.stopErrs, err)
	}
}

// panicOrGoexit returns err if it reports a panic or runtime.Goexit, the only
// reasons a child the supervisor cancelled can give that are reported as a
// shutdown_error, and nil otherwise.
func panicOrGoexit(err error) error {
	if child.IsPanic(err) {
		return err
	}
	return nil
}

// waitFor returns a channel that fires after d, for the one wait on a child
// (its start or its stop) the loop does at a time. With the system clock it
// reuses one timer instead of allocating one per wait: since Go 1.23 a Reset
// timer never delivers a stale value.
func (r *run) waitFor(d time.Duration) <-chan time.Time {
	if _, ok := r.clock.(systemClock); !ok {
		r.endWait()
		var c <-chan time.Time
		c, r.waitStop = newTimer(r.clock, d)
		return c
	}
	if r.waitTimer == nil {
		r.waitTimer = time.NewTimer(d)
	} else {
		r.waitTimer.Reset(d)
	}
	return r.waitTimer.C
}

// endWait stops waitFor's timer once the wait is over, with a TimerClock; the
// system clock's timer is reset by the next wait instead.
func (r *run) endWait() {
	if r.waitStop != nil {
		r.waitStop()
		r.waitStop = nil
	}
}

// shutdown stops every running child in reverse start order, each within its
// budget, all within the stop limit. Once the limit has passed, the children
// still running are cut together, in one step. Nothing restarts from here on.
func (r *run) shutdown() error {
	r.stopping = true
	r.timers = nil
	r.disarm()
	if r.opts.simple {
		return r.stopInstances()
	}
	var errs []error
	children := r.ordered()
	for i := len(children) - 1; i >= 0; i-- {
		e := children[i]
		if e.state == StateRestarting {
			e.state = StateStopped
		}
		if limit := r.stopLimit(); !limit.IsZero() && !r.clock.Now().Before(limit) {
			errs = append(errs, r.stopAll(reversed(children[:i+1]), 0)...)
			break
		}
		if err := r.stopChild(e); err != nil {
			errs = append(errs, err)
		}
	}
	// Every child has been stopped in order; the map of children is the
	// last word: Serve must never return while an incarnation it started
	// still runs uncancelled.
	var left []*entry
	for _, e := range r.byID {
		if e.inc != nil {
			left = append(left, e)
		}
	}
	for _, e := range left {
		if err := r.stopChild(e); err != nil {
			errs = append(errs, err)
		}
	}
	r.deferred = nil
	return errors.Join(errs...)
}

// stopAll stops the running incarnations of list all at once, under one
// shared budget (shutdown, cut by the stop limit), and abandons together
// those still running at its end.
func (r *run) stopAll(list []*entry, shutdown time.Duration) []error {
	now := r.clock.Now()
	w := r.newStopWait(shutdown, now)
	var incs []*incarnation
	for _, e := range list {
		if e.state == StateRestarting {
			e.state = StateStopped
		}
		inc := e.inc
		if inc == nil {
			continue
		}
		e.inc, e.state, inc.handled = nil, StateStopped, true
		if inc.exited {
			r.stoppedEarly(inc)
			continue
		}
		e.state, inc.waited = StateStopping, true
		incs = append(incs, inc)
	}
	if len(incs) == 0 {
		return nil
	}
	w.arm(incs...)
	defer r.endWait()
	for _, inc := range incs {
		inc.cancel()
	}
	var errs []error
	for left := len(incs); left > 0; {
		select {
		case m := <-r.msgs:
			if r.aside(m, r.path) {
				continue
			}
			if m.kind != msgExit || !m.inc.waited {
				r.note(m)
				continue
			}
			left--
			if nested := r.stopped(m.inc, m.err, now); nested != nil {
				errs = append(errs, nested)
			}
		case <-w.stopC:
			w.stopC = nil
			w.tighten(incs...)
		case <-w.ctxDone:
			w.ctxDone = nil
			w.tighten(incs...)
		case <-r.stopNote:
			w.tighten(incs...)
		case <-w.timer:
			return append(errs, r.abandon(incs, w, now, r.path)...)
		}
	}
	return errs
}

// reversed returns a reversed copy of list.
func reversed(list []*entry) []*entry {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}
