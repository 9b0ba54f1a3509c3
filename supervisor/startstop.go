package supervisor

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arborgo/arbor/child"
)

// startAll starts the children one at a time in declared order (OTP's init).
func (r *run) startAll() error {
	if d := r.opts.startTimeout; d > 0 {
		r.startDeadline = r.clock.Now().Add(d)
	}
	defer func() { r.startDeadline = time.Time{} }()
	for _, e := range slices.Clone(r.children) {
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
func (r *run) startChild(e *entry) error {
	inc := r.launch(e)
	if !e.spec.AwaitReady {
		return nil
	}
	if e.state != Restarting {
		e.state = Starting
	}
	var timer <-chan time.Time
	if d, ok := r.startBudget(e); ok {
		timer = r.waitFor(d)
		defer r.endWait()
	}
	for {
		select {
		case m := <-r.msgs:
			if m.inc != inc {
				r.note(m)
				continue
			}
			if !m.exit {
				r.started(e)
				return nil
			}
			inc.exited, inc.handled = true, true
			e.inc, e.state = nil, Stopped
			r.setExit(e, m.err, false)
			switch {
			case errors.Is(m.err, child.ErrIgnore):
				r.emit(r.childEvent(ChildIgnored, e, nil))
				return errIgnored
			case m.err == nil:
				return errors.New("returned before it was ready")
			default:
				return fmt.Errorf("exited before it was ready: %w", m.err)
			}
		case q := <-r.reqs:
			r.handleReqWhileBusy(q, e.path)
		case <-timer:
			if err := r.stopChild(e, time.Time{}); err != nil {
				return errors.Join(ErrStartTimeout, err)
			}
			return ErrStartTimeout
		case <-r.stopC:
			return r.stopWhileStarting(e)
		case <-r.serveCtx.Done():
			return r.stopWhileStarting(e)
		}
	}
}

// stopWhileStarting stops a child whose start a stop request interrupted,
// within the shutdown's limit; an abandonment is kept for Serve's result.
func (r *run) stopWhileStarting(e *entry) error {
	if err := r.stopChild(e, r.stopLimit()); err != nil {
		r.stopErrs = append(r.stopErrs, err)
	}
	return ErrStopping
}

func (r *run) started(e *entry) {
	e.state = Running
	if !r.opts.simple { // OTP logs no progress report for simple_one_for_one instances
		r.emitSince(r.childEvent(ChildStarted, e, nil), e.inc.started)
	}
}

// note records a message that arrived while the loop waited on another
// incarnation; exits are handled once the wait is over.
func (r *run) note(m msg) {
	if m.exit {
		m.inc.exited = true
		r.deferred = append(r.deferred, m)
	}
}

// handleReqWhileBusy handles a call that arrives while the loop waits on one
// child (busy is its path; all children's during a simple_one_for_one
// shutdown). Read-only calls are answered; others wait for the end of that
// start or stop, except those that cannot: a call during shutdown gets
// ErrStopping at once, and one from the awaited child itself (or from below
// it, known by the context it passed) gets ErrBusyWithCaller, since waiting
// for it would deadlock.
func (r *run) handleReqWhileBusy(q request, busy string) {
	switch {
	case q.op.readOnly():
		r.handleReq(q)
	case r.stopping:
		q.reply <- response{err: ErrStopping}
	case q.from != "" && (q.from == busy || strings.HasPrefix(q.from, busy+"/")):
		q.reply <- response{err: fmt.Errorf("%w: %s", ErrBusyWithCaller, busy)}
	default:
		r.deferredReqs = append(r.deferredReqs, q)
	}
}

// stopChild stops e's running incarnation: it cancels its context and waits
// up to its shutdown budget, bounded by limit (zero: unbounded). A child
// still running then is abandoned and reported, and a *StopTimeoutError
// returned. Meanwhile other exits are deferred and read-only calls answered.
func (r *run) stopChild(e *entry, limit time.Time) error {
	inc := e.inc
	if inc == nil {
		return nil
	}
	e.inc, e.state, inc.handled = nil, Stopped, true
	if inc.exited {
		// It ended by itself before the supervisor got to it (its exit is
		// still deferred, and will be skipped). OTP reports an abnormal reason
		// as a shutdown_error; nothing is restarted.
		var reported error
		for _, m := range r.deferred {
			if m.inc == inc && !child.IsNormal(m.err) {
				reported = m.err
			}
		}
		r.emit(r.childEvent(ChildStopped, e, reported))
		return nil
	}
	now := r.clock.Now()
	budget, bounded := stopBudget(e.spec.Shutdown, limit, now)
	e.state = Stopping
	defer func() { e.state = Stopped }()
	var timer <-chan time.Time
	if bounded {
		inc.stopBy.Store(now.Add(budget).UnixNano())
		timer = r.waitFor(budget)
		defer r.endWait()
	}
	inc.cancel()
	for {
		select {
		case m := <-r.msgs:
			if m.inc != inc || !m.exit {
				r.note(m)
				continue
			}
			inc.exited = true
			// The supervisor cancelled it, so whatever it returned is a
			// clean stop, except a panic or Goexit while stopping.
			r.setExit(e, m.err, true)
			// A nested supervisor that had to abandon some of its own
			// children says so in its result; that is passed on, so an
			// abandonment deep in the tree reaches the root's Stop.
			var nested error
			if errors.Is(m.err, ErrStopTimeout) {
				nested = m.err
			}
			r.emitSince(r.childEvent(ChildStopped, e, cmp.Or(panicOrGoexit(m.err), nested)), now)
			return nested
		case q := <-r.reqs:
			r.handleReqWhileBusy(q, e.path)
		case <-timer:
			inc.abandoned = true
			e.abandoned++
			if e.spec.Shutdown == child.BrutalKill {
				// Expected: BrutalKill never waits. Reported without an error.
				r.emit(r.childEvent(ChildAbandoned, e, nil))
				return nil
			}
			err := &StopTimeoutError{Supervisor: r.path, Child: e.spec.ID, Budget: budget, Stacks: GoroutineStacks(e.path)}
			r.emitSince(r.childEvent(ChildAbandoned, e, err), now)
			return err
		}
	}
}

// stopBudget returns how long a child with that Shutdown setting may take to
// return once cancelled, bounded by limit (zero: no limit), and false if it
// may take for ever. BrutalKill gives 0.
func stopBudget(shutdown time.Duration, limit, now time.Time) (time.Duration, bool) {
	budget, bounded := shutdown, shutdown != child.Infinity
	if budget == child.BrutalKill {
		budget = 0
	}
	if !limit.IsZero() {
		if left := max(limit.Sub(now), 0); !bounded || left < budget {
			budget, bounded = left, true
		}
	}
	return budget, bounded
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
		if tc, ok := r.clock.(TimerClock); ok {
			c, stop := tc.NewTimer(d)
			r.waitStop = stop
			return c
		}
		return r.clock.After(d)
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
// budget, all within the stop limit. Nothing restarts from here on.
func (r *run) shutdown() error {
	r.stopping = true
	r.timers = nil
	r.disarm()
	limit := r.stopLimit()
	if r.opts.simple {
		return r.stopInstances(limit)
	}
	var errs []error
	for i := len(r.children) - 1; i >= 0; i-- {
		e := r.children[i]
		if e.state == Restarting {
			e.state = Stopped
		}
		if err := r.stopChild(e, limit); err != nil {
			errs = append(errs, err)
		}
	}
	r.deferred = nil
	return errors.Join(errs...)
}
