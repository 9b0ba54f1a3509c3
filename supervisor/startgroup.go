package supervisor

import (
	"errors"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
)

// startParallel starts a start group (adjacent children with the same
// child.Spec.StartGroup) during the initial start: every member is launched
// at once, in declared order, and the group counts as started once every
// awaited member has reported ready, within one deadline: the longest of the
// members' StartTimeouts, bounded by the overall start deadline. If a member
// fails, the members still starting or running are stopped in reverse order,
// and the error joins a *StartError for every member that failed. A stop
// asked for meanwhile stops them all and returns ErrStopping.
func (r *run) startParallel(group []*entry) error {
	if r.stopRequested() {
		return ErrStopping
	}
	waiting := make(map[*incarnation]bool, len(group))
	var budget time.Duration
	bounded := true
	for _, e := range group {
		inc := r.launch(e)
		if !e.spec.AwaitReady {
			continue
		}
		e.state = StateStarting
		waiting[inc] = true
		if d, ok := r.startBudget(e); !ok {
			bounded = false
		} else if d > budget {
			budget = d
		}
	}
	var timer <-chan time.Time
	if bounded && len(waiting) > 0 {
		timer = r.waitFor(budget)
		defer r.endWait()
	}
	var failed []error
	fail := func(e *entry, err error) {
		r.emit(r.childEvent(ChildStartFailed, e, err))
		failed = append(failed, &StartError{Supervisor: r.path, Child: e.spec.ID, Err: err})
	}
	// take handles a message of a member: ready, or ended before it.
	take := func(m msg) {
		inc := m.inc
		delete(waiting, inc)
		if m.kind == msgReady {
			r.started(inc.e)
			close(m.ack)
			return
		}
		err := r.endedBeforeReady(inc, m.err)
		switch {
		case errors.Is(err, errIgnored):
			if inc.e.spec.Restart == child.Temporary {
				r.remove(inc.e)
			}
		default:
			fail(inc.e, err)
		}
	}
	for len(waiting) > 0 && len(failed) == 0 {
		select {
		case m := <-r.msgs:
			switch {
			case r.aside(m, r.path): // any member may be the caller
			case waiting[m.inc]:
				take(m)
			default:
				r.note(m)
			}
		case <-timer:
			for inc := range waiting {
				fail(inc.e, fmt.Errorf("%w: no child.Ready within %v, the start group's deadline (AwaitReady is set: Serve must call child.Ready(ctx) with the ctx it was given, once it has started)", ErrStartTimeout, budget))
			}
			clear(waiting)
		case <-r.stopC:
			return r.stopGroupStart(group)
		case <-r.serveCtx.Done():
			return r.stopGroupStart(group)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	// Failures already queued are named too; then the rest of the group is
	// stopped, in reverse order (the earlier siblings follow, in shutdown).
	r.drainMsgs(func(m msg) {
		if waiting[m.inc] {
			take(m)
		} else {
			r.note(m)
		}
	}, r.path)
	for i := len(group) - 1; i >= 0; i-- {
		if err := r.stopChild(group[i]); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// stopGroupStart stops the members of a start group a stop request
// interrupted, in reverse order, within the shutdown's limit.
func (r *run) stopGroupStart(group []*entry) error {
	r.drainMsgs(r.note, r.path)
	for i := len(group) - 1; i >= 0; i-- {
		_ = r.stopChild(group[i]) // an abandonment goes into Serve's result (see stopChild)
	}
	return ErrStopping
}
