package supervisor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// lifecycle is one Serve of a supervisor as its callers see it: its
// readiness, its end and result, and the stops asked of it. It exists before
// the Serve that takes it begins, so that Ready, Done, Stop and Wait called
// in between are not lost.
type lifecycle struct {
	id    uint64        // immutable: 1 for a supervisor's first Serve, then counting up
	clock Clock         // immutable: the supervisor's, to read Stop deadlines on
	ready chan struct{} // closed once every child has started
	done  chan struct{} // closed when Serve returns; senders give up then
	err   error         // Serve's result; written before done is closed
	taken bool          // guarded by the Supervisor's mu: a Serve has begun with it

	// msgs is the run's inbox, never closed: exits and readies from its
	// incarnations, API calls, wake-ups (stops, restart timers). The loop
	// waits on it alone. It is made with the lifecycle, so that a Stop
	// before Serve begins has somewhere to wake the run (see requestStop).
	msgs chan msg

	stopC    chan struct{} // closed by requestStop
	stopNote chan struct{} // buffered (1): signalled whenever stopBy moves earlier
	stopOnce sync.Once
	stopMu   sync.Mutex
	stopBy   time.Time // guarded by stopMu: the earliest deadline a Stop caller gave
}

func newLifecycle(id uint64, clock Clock) *lifecycle {
	return &lifecycle{id: id, clock: clock, ready: make(chan struct{}), done: make(chan struct{}),
		msgs: make(chan msg, 64), stopC: make(chan struct{}), stopNote: make(chan struct{}, 1)}
}

// wake posts a wake-up to the run's inbox, unless the inbox is full: then the
// loop has messages to take, and looks at its state after each.
func (l *lifecycle) wake() {
	select {
	case l.msgs <- msg{kind: msgWake}:
	default:
	}
}

// requestStop asks the run to stop; deadline, from a Stop caller's context,
// is wall-clock time, and is read on the supervisor's clock as the time left.
func (l *lifecycle) requestStop(deadline time.Time) {
	if !deadline.IsZero() {
		deadline = l.clock.Now().Add(time.Until(deadline))
	}
	l.stopMu.Lock()
	moved := !deadline.IsZero() && (l.stopBy.IsZero() || deadline.Before(l.stopBy))
	if moved {
		l.stopBy = deadline
	}
	l.stopMu.Unlock()
	l.stopOnce.Do(func() {
		close(l.stopC)
		l.wake() // after the close: the loop that wakes sees the stop
	})
	if moved {
		// A wait already under way shortens itself to the new deadline.
		select {
		case l.stopNote <- struct{}{}:
		default:
		}
	}
}

// stopDeadline returns the earliest deadline a Stop caller gave, on the
// supervisor's clock, or zero.
func (l *lifecycle) stopDeadline() time.Time {
	l.stopMu.Lock()
	defer l.stopMu.Unlock()
	return l.stopBy
}

// Serve starts the children one at a time in declared order, each through its
// started handshake, then keeps them running until ctx is done or
// [Supervisor.Stop] is called, and then stops them one at a time in reverse
// start order, each within its shutdown budget. It reports ready (see
// [child.Ready]) once every child has started, so a parent starts the next
// sibling only then.
//
// Serve returns only after every child has returned or been abandoned:
//   - nil after a requested stop in which every child returned in time;
//   - a [*StartError] if a child failed to start (the children started before
//     it are stopped in reverse order first);
//   - a [*GiveUpError] if it exceeded its restart intensity (escalation);
//   - [*StopTimeoutError]s, joined, for children abandoned during shutdown.
//
// A Stop called before Serve begins is not lost: that Serve starts nothing
// and returns nil at once. Serve may be called again after it returns; each
// call starts afresh from the specs given to New (or the configuration last
// given to [Supervisor.Apply]), as a restarted OTP supervisor does: children
// added with StartChild are gone, and a Stop of an earlier Serve does not
// stop it. Each Serve is a run with an identity, [Info.Run] and [Event.Run].
//
// Serve returns [ErrAlreadyServing] while another Serve runs, unless that one
// has been asked to stop: then the new Serve begins at once, and the earlier
// one finishes its shutdown by itself. That is how a parent restarts a nested
// supervisor it had to abandon (see docs/semantics.md, section 8): the
// abandoned run's children, cancelled and abandoned in turn, overlap with the
// new run's, as any abandoned child overlaps with its replacement.
func (s *Supervisor) Serve(ctx context.Context) error {
	r, err := s.begin(ctx)
	if err != nil {
		return err
	}
	return s.finish(r, r.serve())
}

func (s *Supervisor) begin(ctx context.Context) (*run, error) {
	if s.unbuilt() {
		return nil, ErrNotBuilt
	}
	s.mu.Lock()
	if old := s.cur; old != nil {
		if !old.stopRequested() {
			s.mu.Unlock()
			return nil, ErrAlreadyServing
		}
		// A run that is only finishing its shutdown (abandoned by its
		// parent, which restarts it) does not hold up the new one: it ends
		// by itself, and its result goes to whoever waits on its
		// lifecycle. But its children's contexts must be cancelled before
		// the new run starts theirs (a registry name, a port): it is told
		// to cut them now (its deadline is now: every child still running
		// is cancelled and abandoned at once), and given up to StopGrace to
		// have returned.
		s.mu.Unlock()
		old.requestStop(time.Now())
		grace := time.NewTimer(StopGrace)
		select {
		case <-old.done:
		case <-grace.C:
		}
		grace.Stop()
		s.mu.Lock()
		if s.cur != nil && s.cur != old && !s.cur.stopRequested() {
			s.mu.Unlock()
			return nil, ErrAlreadyServing // another Serve began meanwhile
		}
	}
	defer s.mu.Unlock()
	if s.life.taken {
		s.life = newLifecycle(s.life.id+1, s.opts.clock)
	}
	s.life.taken = true
	r := newRun(s, ctx, s.life)
	s.cur = r
	return r, nil
}

func (s *Supervisor) finish(r *run, err error) error {
	s.mu.Lock()
	if s.cur == r {
		s.cur = nil
	}
	s.mu.Unlock()
	r.err = err
	close(r.done)
	return err
}

// current returns the lifecycle Ready, Done, Stop and Wait bind to now.
func (s *Supervisor) current() *lifecycle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.life
}

// Start runs Serve on a goroutine of its own and returns once every child has
// started, or with Serve's error if the start failed. ctx bounds only the
// start: if it ends first, Start asks the supervisor to stop and returns
// ctx.Err() at once, while the children already started are stopped in
// reverse order ([Supervisor.Done] and [Supervisor.Wait] tell when that is
// over). Use [Supervisor.Stop] to stop the supervisor once started.
func (s *Supervisor) Start(ctx context.Context) error {
	r, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	// Ends when Serve returns, after a Stop, a start failure or escalation;
	// Stop and Wait wait for it through r.done.
	go func() { _ = s.finish(r, r.serve()) }()
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		if r.err == nil {
			return ErrStopping // a Stop came before every child had started
		}
		return r.err
	case <-ctx.Done():
		r.requestStop(time.Time{})
		return ctx.Err()
	}
}

// Stop asks the supervisor to stop its children in reverse start order and
// waits until Serve has returned, then returns Serve's result. If ctx has a
// deadline, the whole shutdown is bounded by it, including the stop of a
// child already under way (by TerminateChild, a group restart, Apply, a
// start timeout): each child gets the smaller of its own budget and the time
// left, and every child still being waited on when it passes is abandoned;
// Serve's result, which Stop returns, then holds their [*StopTimeoutError]s,
// which match [context.DeadlineExceeded] too. Stop is idempotent: concurrent
// and later callers all wait for the same shutdown and get the same result,
// and the earliest deadline given bounds it.
//
// Stop binds to the Serve in progress; with none in progress, to the last
// one, whose result it returns at once; before the first Serve, to that
// Serve, which will then start nothing and return at once, and Stop returns
// nil without waiting. A Stop never carries over to a later Serve.
//
// When ctx's deadline passes, Stop tells the supervisor at once (on any
// clock) and waits a little longer (up to [StopGrace]) for Serve's result;
// only if the supervisor does not answer in that time, or if ctx is
// cancelled without a deadline, does Stop return ctx.Err() while the
// shutdown goes on.
func (s *Supervisor) Stop(ctx context.Context) error {
	if s.unbuilt() {
		return ErrNotBuilt
	}
	s.mu.Lock()
	l, taken := s.life, s.life.taken
	s.mu.Unlock()
	deadline, _ := ctx.Deadline()
	l.requestStop(deadline)
	if !taken {
		return nil // latched: the Serve that takes l returns at once
	}
	select {
	case <-l.done:
		return l.err
	case <-ctx.Done():
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	// The deadline has passed: the loop abandons what still runs and
	// returns. It was told by its own timer on its clock; tell it now, in
	// wall-clock time, in case its clock is another.
	l.requestStop(time.Now())
	grace := time.NewTimer(StopGrace)
	defer grace.Stop()
	select {
	case <-l.done:
		return l.err
	case <-grace.C:
		return ctx.Err()
	}
}

// StopGrace is how long [Supervisor.Stop] waits past its deadline for the
// shutdown's result: the time to cut the children still running, take one
// goroutine profile for their reports, and return. It is not a budget given
// to children.
const StopGrace = time.Second

// Wait blocks until the Serve it binds to has returned, and returns its
// result: the Serve in progress; with none in progress, the last one (Wait
// returns at once); before the first Serve, that Serve (Wait blocks until it
// has begun and returned). To wait for one run in particular, take its
// [Supervisor.Done] channel while it runs, or compare [Info.Run].
func (s *Supervisor) Wait() error {
	if s.unbuilt() {
		return ErrNotBuilt
	}
	l := s.current()
	<-l.done
	return l.err
}

// Done returns a channel closed when the Serve it binds to (as for
// [Supervisor.Wait]) has returned. It is never nil for a supervisor built
// with New, even before Serve is called.
func (s *Supervisor) Done() <-chan struct{} {
	if s.unbuilt() {
		return nil
	}
	return s.current().done
}

// Ready returns a channel closed once the Serve it binds to (as for
// [Supervisor.Wait]) has started every child. It is never nil for a
// supervisor built with New, even before Serve is called, so
// `go s.Serve(ctx); <-s.Ready()` works.
func (s *Supervisor) Ready() <-chan struct{} {
	if s.unbuilt() {
		return nil
	}
	return s.current().ready
}
