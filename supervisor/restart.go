package supervisor

import (
	"container/heap"
	"errors"
	"slices"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// disarm stops the restart timer.
func (r *run) disarm() {
	if r.armedStop != nil {
		r.armedStop()
		r.armedStop = nil
	}
}

// arm makes sure that the loop is woken when the earliest pending restart is
// due: a timer posts a wake-up to the inbox then.
func (r *run) arm() {
	if len(r.timers) == 0 {
		return
	}
	due := r.timers[0].due
	if r.armedStop != nil && r.armedDue.Equal(due) {
		return
	}
	r.disarm()
	if r.armGen++; r.armGen == 0 {
		r.armGen = 1 // 0 is a stop's wake-up
	}
	r.armedDue = due
	r.armedStop = r.wakeAfter(due.Sub(r.clock.Now()), r.armGen)
}

// wakeAfter posts the wake-up of arming gen to the inbox once d has passed
// on the run's clock, and returns a function that stops the timer. A wake-up
// the full inbox cannot take is dropped: the loop takes the messages queued,
// and finds the restart due before it waits again.
func (r *run) wakeAfter(d time.Duration, gen uint32) (stop func() bool) {
	post := func() {
		select {
		case r.msgs <- msg{kind: msgWake, gen: gen}:
		default:
		}
	}
	if _, ok := r.clock.(systemClock); ok {
		return time.AfterFunc(d, post).Stop
	}
	// Another clock gives a channel: a goroutine waits on it, and ends when
	// it fires or the timer is stopped (every run ends by stopping it: see
	// shutdown).
	c, stopTimer := newTimer(r.clock, d)
	quit := make(chan struct{})
	go func() {
		select {
		case <-c:
			post()
		case <-quit:
		}
	}()
	return func() bool {
		close(quit)
		return stopTimer()
	}
}

// handleExit applies OTP's restart-type × exit-reason matrix to a child that
// ended by itself.
func (r *run) handleExit(e *entry, inc *incarnation, err error) {
	inc.handled = true
	e.inc, e.state = nil, StateStopped
	r.setExit(e, err, false)
	normal := child.IsNormal(err)
	wanted := e.spec.Restart.ShouldRestart(normal)
	// Restarted says what follows: nothing restarts once a stop is asked
	// for, nor when this restart would exceed the intensity (the supervisor
	// gives up instead); the event must not say otherwise.
	stopping := r.stopRequested()
	ev := r.incEvent(ChildExited, inc, err)
	ev.Restarted = wanted && !stopping && r.window.Allows(e.lastAt)
	r.emit(ev)
	if !wanted {
		if e.spec.Significant && r.significantEnded() {
			r.autoStop = true
			r.emit(r.childEvent(AutoShutdownTriggered, e, err))
		}
		if e.spec.Restart == child.Temporary || r.opts.simple {
			r.remove(e) // OTP deletes every simple_one_for_one instance it does not restart
		}
		return
	}
	if stopping {
		return // the shutdown that follows stops the rest
	}
	if e.backoff != nil && r.clock.Now().Sub(inc.started) >= r.opts.flags.Intensity.Period {
		e.backoff.Reset()
	}
	r.restart(e, err, false)
	if r.opts.simple && e.state == StateStopped && !e.removed {
		r.remove(e) // not restarted after all: a stop is under way, or the supervisor gave up
	}
}

// significantEnded reports whether a significant child's own exit, just
// handled, shuts the supervisor down (OTP's auto_shutdown).
func (r *run) significantEnded() bool {
	switch r.opts.flags.AutoShutdown {
	case AutoShutdownAnySignificant:
		return true
	case AutoShutdownAllSignificant:
		for _, c := range r.ordered() {
			// One waiting for its restart (a backoff delay, a retry) is
			// alive, as in OTP.
			if c.spec.Significant && (c.inc != nil || c.state == StateRestarting) {
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
//
// A pending restart belongs to e alone: e is Restarting, and the siblings the
// strategy stopped are Stopped, as in OTP, until it comes due and the
// strategy is applied again from e. Terminating e drops it whole.
func (r *run) restart(e *entry, reason error, retry bool) {
	if r.stopRequested() {
		e.state = StateStopped // nothing restarts once a stop is asked for
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
	e.state = StateRestarting
	if r.groupStrategy() {
		if group = r.stopGroup(e); group == nil {
			return // a stop came while the siblings were stopped
		}
	}
	var delay time.Duration
	if e.backoff != nil {
		if delay = e.backoff.NextBackOff(); delay == BackOffStop {
			r.giveUp(e, reason, ErrBackoffStop)
			return
		}
	}
	if delay == 0 && !retry {
		// An exit's restart happens at once, as in OTP; only retries after a
		// failed start go through the queue, so calls and a stop get a turn
		// between them.
		r.startGroup(group)
		return
	}
	for _, g := range group {
		if g != e && g.inc == nil {
			g.state = StateStopped
		}
	}
	e.gen++
	p := &pending{due: r.clock.Now().Add(delay), e: e, gen: e.gen}
	if retry && e.abandoned > 0 {
		// Its last start failed while an abandoned incarnation still runs:
		// the retry waits for that one to return (see entry.parked).
		e.parked = p
		return
	}
	r.schedule(p)
	if delay > 0 {
		ev := r.childEvent(RestartScheduled, e, reason)
		ev.Delay = delay
		r.emit(ev)
	}
}

// groupStrategy reports whether an exit restarts a group (one_for_all,
// rest_for_one) rather than the child alone.
func (r *run) groupStrategy() bool {
	s := r.opts.flags.Strategy
	return s == strategy.OneForAll || s == strategy.RestForOne
}

// stopGroup applies a group strategy to a restart of e: it stops the
// siblings the strategy names in reverse start order, forgets temporary ones,
// and returns the group to start, in start order. Siblings already stopped
// show Restarting. It returns nil if a stop was asked for meanwhile.
func (r *run) stopGroup(e *entry) []*entry {
	snapshot := slices.Clone(r.ordered())
	types := make([]child.Restart, len(snapshot))
	for i, c := range snapshot {
		types[i] = c.spec.Restart
	}
	p := r.opts.flags.Strategy.Plan(types, slices.Index(snapshot, e), false)
	for _, j := range p.Stop {
		c := snapshot[j]
		_ = r.stopChild(c) // an abandoned sibling is reported by its event
		if r.stopRequested() {
			e.state = StateStopped
			return nil
		}
		if c.spec.Restart != child.Temporary {
			c.state = StateRestarting
		}
	}
	for _, j := range p.Forget {
		r.remove(snapshot[j])
	}
	group := make([]*entry, 0, len(p.Start))
	for _, j := range p.Start {
		group = append(group, snapshot[j])
	}
	return group
}

// schedule queues a pending restart.
func (r *run) schedule(p *pending) {
	r.seq++
	p.seq = r.seq
	heap.Push(&r.timers, p)
}

func (r *run) giveUp(e *entry, reason, why error) {
	ev := r.childEvent(IntensityExceeded, e, reason)
	ev.InWindow = r.window.Len(r.clock.Now())
	r.emit(ev)
	r.failure = &GiveUpError{Supervisor: r.path, Child: e.spec.ID, Err: reason, Intensity: r.opts.flags.Intensity, Reason: why}
}

// runDue carries out the earliest due restart: unless its child was
// terminated, deleted or rescheduled meanwhile, the strategy is applied again
// from that child (stopping any sibling that runs again meanwhile) and the
// group started in order. A start that fails is a new restart event, retried
// as the strategy says.
func (r *run) runDue() {
	p := heap.Pop(&r.timers).(*pending)
	e := p.e
	if e.removed || e.gen != p.gen || e.state != StateRestarting {
		return
	}
	one := [1]*entry{e}
	group := one[:]
	if r.groupStrategy() {
		if group = r.stopGroup(e); group == nil {
			return
		}
	}
	r.startGroup(group)
}

// startGroup starts, in order, the children of group that are not running.
func (r *run) startGroup(group []*entry) {
	for _, e := range group {
		if e.removed || e.inc != nil {
			continue
		}
		e.state = StateRestarting
		e.restarts++ // counted before the start, so that its ChildStarted event says it
		err := r.startChild(e)
		switch {
		case err == nil:
			// No yield to the new incarnation (runtime.Gosched): it would
			// put the loop on the global run queue, behind every runnable
			// goroutine of a busy process (see stopChild).
		case errors.Is(err, errIgnored):
			if r.opts.simple {
				r.remove(e) // a restarted instance that declines is removed
			}
		case errors.Is(err, ErrStopping):
			e.restarts--
			return // the shutdown that follows sets the states
		default:
			e.restarts--
			e.state = StateRestarting
			r.emit(r.childEvent(ChildStartFailed, e, err))
			r.restart(e, err, true)
			return
		}
	}
}

// pending is a restart of one child, and of the group its strategy names,
// once due.
type pending struct {
	due time.Time
	e   *entry
	gen uint64 // e's gen when scheduled
	seq uint64 // scheduling order, for ties
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
