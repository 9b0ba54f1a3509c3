package supervisor

import (
	"container/heap"
	"errors"
	"runtime"
	"slices"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/cenkalti/backoff/v4"
)

// disarm stops the restart timer, with a TimerClock.
func (r *run) disarm() {
	if r.armedStop != nil {
		r.armedStop()
		r.armedStop = nil
	}
	r.armedC = nil
}

// timerC returns a channel that fires when the earliest pending restart is
// due, or nil if none is pending.
func (r *run) timerC() <-chan time.Time {
	if len(r.timers) == 0 {
		return nil
	}
	due := r.timers[0].due
	if r.armedC == nil || !r.armedDue.Equal(due) {
		r.disarm()
		r.armedDue = due
		if tc, ok := r.clock.(TimerClock); ok {
			r.armedC, r.armedStop = tc.NewTimer(due.Sub(r.clock.Now()))
		} else {
			r.armedC = r.clock.After(due.Sub(r.clock.Now()))
		}
	}
	return r.armedC
}

// handleExit applies OTP's restart-type × exit-reason matrix to a child that
// ended by itself.
func (r *run) handleExit(e *entry, inc *incarnation, err error) {
	inc.handled = true
	e.inc, e.state = nil, Stopped
	r.setExit(e, err, false)
	normal := child.IsNormal(err)
	restart := e.spec.Restart.ShouldRestart(normal)
	ev := r.childEvent(ChildExited, e, err)
	ev.Restarted = restart
	r.emit(ev)
	if !restart {
		if e.spec.Significant && r.significantEnded() {
			r.autoStop = true
			r.emit(r.childEvent(AutoShutdownTriggered, e, err))
		}
		if e.spec.Restart == child.Temporary {
			r.remove(e)
		}
		return
	}
	if e.backoff != nil && r.clock.Now().Sub(inc.started) >= r.opts.intensity.Period {
		e.backoff.Reset()
	}
	r.restart(e, err, false)
}

// significantEnded reports whether a significant child's own exit, just
// handled, shuts the supervisor down (OTP's auto_shutdown).
func (r *run) significantEnded() bool {
	switch r.opts.autoShutdown {
	case AnySignificant:
		return true
	case AllSignificant:
		for _, c := range r.children {
			if c.spec.Significant && c.inc != nil {
				return false
			}
		}
		return true
	}
	return false
}

// restart counts one restart event for e, applies the strategy (stopping the
// siblings it names) and starts the group, at once or, after a backoff delay
// or for a retry after a failed attempt (retry), from the queue of pending
// restarts. An exit's restart counts at the time of the exit, just recorded
// by setExit; a retry's, now.
func (r *run) restart(e *entry, reason error, retry bool) {
	if r.stopRequested() {
		e.state = Stopped // nothing restarts once a stop is asked for
		return
	}
	at := e.lastAt
	if retry {
		at = r.clock.Now()
	}
	if !r.window.Record(at) {
		r.giveUp(e, reason, escalation.ErrExceeded)
		return
	}
	one := [1]*entry{e} // one_for_one's group, kept off the heap
	group := one[:]
	if s := r.opts.strategy; s == strategy.OneForAll || s == strategy.RestForOne {
		snapshot := slices.Clone(r.children)
		types := make([]child.Restart, len(snapshot))
		for i, c := range snapshot {
			types[i] = c.spec.Restart
		}
		p := r.opts.strategy.Plan(types, slices.Index(snapshot, e), false)
		for _, j := range p.Stop {
			_ = r.stopChild(snapshot[j], time.Time{}) // an abandoned sibling is reported by its event
		}
		for _, j := range p.Forget {
			r.remove(snapshot[j])
		}
		group = group[:0]
		for _, j := range p.Start {
			group = append(group, snapshot[j])
		}
	}
	var delay time.Duration
	if e.backoff != nil {
		if delay = e.backoff.NextBackOff(); delay == backoff.Stop {
			r.giveUp(e, reason, ErrBackoffStop)
			return
		}
	}
	if delay == 0 && !retry {
		// An exit's restart happens at once, as in OTP; only retries after a
		// failed start go through the queue, so calls and a stop get a turn
		// between them.
		for _, g := range group {
			g.state = Restarting
			g.gen++
		}
		r.startGroup(group, nil)
		return
	}
	r.seq++
	p := &pending{due: r.clock.Now().Add(delay), group: slices.Clone(group), gens: make([]uint64, len(group)), seq: r.seq}
	for i, g := range group {
		g.state = Restarting
		g.gen++
		p.gens[i] = g.gen
	}
	heap.Push(&r.timers, p)
	if delay > 0 {
		ev := r.childEvent(RestartScheduled, e, reason)
		ev.Delay = delay
		r.emit(ev)
	}
}

func (r *run) giveUp(e *entry, reason, why error) {
	ev := r.childEvent(IntensityExceeded, e, reason)
	ev.InWindow = r.window.Len(r.clock.Now())
	r.emit(ev)
	r.failure = &GiveUpError{Supervisor: r.path, Child: e.spec.ID, Err: reason, Intensity: r.opts.intensity, Reason: why}
}

// runDue starts the earliest due restart group in order. A start that fails
// is a new restart event, retried as the strategy says.
func (r *run) runDue() {
	p := heap.Pop(&r.timers).(*pending)
	r.startGroup(p.group, p.gens)
}

// startGroup starts the children of group in order; gens, if not nil, holds
// each one's gen when it was scheduled, and a child whose gen moved on was
// terminated, deleted or rescheduled meanwhile.
func (r *run) startGroup(group []*entry, gens []uint64) {
	for i, e := range group {
		if e.removed || e.state != Restarting || (gens != nil && e.gen != gens[i]) {
			continue
		}
		err := r.startChild(e)
		switch {
		case err == nil:
			e.restarts++
			if i == len(group)-1 && !e.spec.AwaitReady {
				// The new incarnation waits in this P's runnext until the
				// loop parks, and another P would take it only after a
				// back-off: yield, so it runs at once while the loop goes
				// on wherever it is scheduled next.
				runtime.Gosched()
			}
		case errors.Is(err, errIgnored):
			e.restarts++
			if r.opts.simple {
				r.remove(e) // a restarted instance that declines is removed
			}
		case errors.Is(err, ErrStopping):
			return
		default:
			e.state = Restarting
			r.emit(r.childEvent(ChildStartFailed, e, err))
			r.restart(e, err, true)
			return
		}
	}
}

// pending is a group of children to start once due.
type pending struct {
	due   time.Time
	group []*entry // start order
	gens  []uint64 // each entry's gen when scheduled
	seq   uint64   // scheduling order, for ties
}

// timerHeap orders pending restarts by due time.
type timerHeap []*pending

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}

func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *timerHeap) Push(x any) { *h = append(*h, x.(*pending)) }

func (h *timerHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}
