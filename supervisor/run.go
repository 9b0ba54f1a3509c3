package supervisor

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// run is one call of Serve: the state machine and everything it owns.
type run struct {
	s     *Supervisor
	opts  options // a copy: Apply changes it without touching the Supervisor's
	clock Clock
	log   *zap.Logger
	path  string

	serveCtx context.Context // Serve's ctx: its end asks for a stop
	base     context.Context // parent of every incarnation's ctx: serveCtx's values, not its cancellation

	msgs  chan msg      // from incarnations; never closed
	reqs  chan request  // calls from the API; never closed
	ready chan struct{} // closed once every child has started
	done  chan struct{} // closed when Serve returns; senders give up then
	err   error         // Serve's result; written before done is closed

	stopC    chan struct{} // closed by requestStop
	stopOnce sync.Once
	stopMu   sync.Mutex
	stopBy   time.Time // guarded by stopMu: the earliest deadline a Stop caller gave

	dynMu   sync.Mutex
	dynSups map[string]*Supervisor // guarded by dynMu: nested supervisors added with StartChild, for Tree

	// Owned by the run goroutine.
	children      []*entry // start order
	byID          map[string]*entry
	window        *escalation.Window
	deferred      []msg     // exits that arrived while the loop waited on one child
	deferredReqs  []request // mutating calls that arrived while the loop waited on one child
	timers        timerHeap // restarts waiting for their time
	armedC        <-chan time.Time
	armedDue      time.Time
	startDeadline time.Time   // overall start deadline during the initial start; zero otherwise
	failure       error       // set when the supervisor must give up
	stopping      bool        // shutdown has begun
	stopErrs      []error     // abandonments while a stop interrupted a start
	autoStop      bool        // set when significant children shut the supervisor down
	seq           uint64      // orders restarts due at the same time
	waitTimer     *time.Timer // reused by waitFor with the system clock
	waitStop      func() bool // stops waitFor's timer with a TimerClock
	armedStop     func() bool // stops the armed restart timer with a TimerClock

	// simple_one_for_one: instances live in byID only, never in children, so
	// that starting, exiting and terminating one costs O(1).
	template child.Spec // the template spec; zero for other strategies
}

// entry is one child of a run.
type entry struct {
	// Defaults filled in; immutable, and so is what it points to: an element
	// of the spec list the run started from (or that Apply installed), or,
	// for a child added at run time, the copy allocated with the entry (see
	// addOwnEntry).
	spec *child.Spec
	path string          // immutable
	base context.Context // immutable: parent of its incarnations' contexts, with its pprof label

	// Owned by the run goroutine.
	state         ChildState
	removed       bool
	inc           *incarnation // the running incarnation, or nil
	restarts      int
	abandoned     int             // abandoned incarnations that have not returned
	gen           uint64          // bumped to cancel a pending restart
	seq           uint64          // simple_one_for_one: start order
	backoff       backoff.BackOff // nil without WithBackoff
	lastExit      error
	lastAt        time.Time // when lastExit happened
	lastRequested bool      // lastExit followed a stop the supervisor asked for
}

// incarnation is one call of a child's Serve. It is both the context Serve
// gets and the child's [child.Control]: it wraps its own cancellable context
// and answers the control lookup with itself (see Value), which saves a
// context.WithValue per incarnation.
type incarnation struct {
	context.Context // immutable: cancelled by cancel, parent e.base
	e               *entry
	r               *run
	cancel          context.CancelFunc

	readied atomic.Bool

	// Owned by the run goroutine (next to readied, to keep the struct small).
	exited    bool // its exit message has arrived
	handled   bool // the supervisor has dealt with its end
	abandoned bool
	started   time.Time

	stopBy atomic.Int64 // UnixNano of the stop deadline; 0 while not stopping or unbounded
}

var _ child.Control = (*incarnation)(nil)

// msg is what an incarnation tells the loop: it is ready, or it exited with err.
type msg struct {
	inc  *incarnation
	exit bool
	err  error
}

// controlMark is the [child.Control] installed once per run below every
// entry's context (see runBase). An incarnation's Value replaces it with the
// incarnation itself, so that the control found from an incarnation's context,
// or from any context derived from it, is always that incarnation's. Nothing
// else reaches it: the run's base context is only ever the parent of
// incarnations. Should it be reached anyway, it behaves as "outside a
// supervisor".
var controlMark child.Control = &markControl{}

type markControl struct{}

func (*markControl) Ready()                          {}
func (*markControl) StopDeadline() (time.Time, bool) { return time.Time{}, false }
func (*markControl) Path() string                    { return "" }

// Value returns the incarnation itself for the control key of package child,
// and otherwise what its cancellable context holds, so that context's own
// lookups (its cancellation, a derived context's parent) still find it.
func (i *incarnation) Value(key any) any {
	v := i.Context.Value(key)
	if v == any(controlMark) {
		return i
	}
	return v
}

// String describes the context as the context package would.
func (i *incarnation) String() string {
	return fmt.Sprint(i.Context) + ".WithValue(child.controlKey, " + i.e.path + ")"
}

func (i *incarnation) Ready() {
	if !i.e.spec.AwaitReady || !i.readied.CompareAndSwap(false, true) {
		return
	}
	select {
	case i.r.msgs <- msg{inc: i}:
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

func newRun(s *Supervisor, ctx context.Context) *run {
	path := child.Path(ctx)
	if path == "" {
		path = s.name
	}
	r := &run{
		s:        s,
		opts:     s.opts,
		clock:    s.opts.clock,
		log:      s.opts.logger.With(zap.String("supervisor", path)),
		path:     path,
		serveCtx: ctx,
		base:     runBase(ctx),
		msgs:     make(chan msg, 64),
		reqs:     make(chan request),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		stopC:    make(chan struct{}),
		byID:     make(map[string]*entry, len(s.specs)),
		window:   escalation.NewWindow(s.opts.intensity),
	}
	if s.opts.simple {
		r.template = s.specs[0]
		return r
	}
	for i := range s.specs {
		r.addEntry(&s.specs[i]) // s.specs is replaced whole, never changed in place
	}
	return r
}

// runBase returns the parent of a run's entry contexts: ctx's values without
// its cancellation, with controlMark for the incarnations to replace (see
// incarnation.Value), and ctx's pprof labels repeated on top, so that each
// entry's labelled context finds them at once instead of walking through the
// detached context, whose Value allocates on every call.
func runBase(ctx context.Context) context.Context {
	base := child.WithControl(context.WithoutCancel(ctx), controlMark)
	return pprof.WithLabels(base, pprof.LabelSet{})
}

// addEntry appends a child with spec sp, which must never change.
func (r *run) addEntry(sp *child.Spec) *entry {
	return r.appendEntry(&entry{spec: sp})
}

// addOwnEntry is addEntry for a spec kept nowhere else: the entry and its copy
// of the spec are one allocation.
func (r *run) addOwnEntry(sp child.Spec) *entry {
	return r.appendEntry(newOwnEntry(sp))
}

// newOwnEntry returns an entry allocated together with its copy of sp.
func newOwnEntry(sp child.Spec) *entry {
	x := &struct {
		e   entry
		own child.Spec
	}{own: sp}
	x.e.spec = &x.own
	return &x.e
}

func (r *run) appendEntry(e *entry) *entry {
	sp := e.spec
	e.path, e.state = r.path+"/"+sp.ID, Stopped
	e.base = labelled(r.base, e.path)
	if r.opts.newBackoff != nil {
		e.backoff = r.opts.newBackoff()
	}
	r.children = append(r.children, e)
	r.byID[sp.ID] = e
	return e
}

func (r *run) remove(e *entry) {
	e.removed = true
	delete(r.byID, e.spec.ID)
	if _, ok := e.spec.Service.(*Supervisor); ok {
		r.dynMu.Lock()
		delete(r.dynSups, e.spec.ID)
		r.dynMu.Unlock()
	}
	if r.opts.simple {
		return
	}
	// Searched from the end: a child added at run time and removed again is
	// the last one, or near it, so the search and the shift are short.
	for i := len(r.children) - 1; i >= 0; i-- {
		if r.children[i] == e {
			r.children = slices.Delete(r.children, i, i+1)
			return
		}
	}
}

// requestStop asks the loop to stop; deadline, from a Stop caller's context,
// is wall-clock time, and is read on the supervisor's clock as the time left.
func (r *run) requestStop(deadline time.Time) {
	if !deadline.IsZero() {
		deadline = r.clock.Now().Add(time.Until(deadline))
	}
	r.stopMu.Lock()
	if !deadline.IsZero() && (r.stopBy.IsZero() || deadline.Before(r.stopBy)) {
		r.stopBy = deadline
	}
	r.stopMu.Unlock()
	r.stopOnce.Do(func() { close(r.stopC) })
}

func (r *run) stopRequested() bool {
	select {
	case <-r.stopC:
		return true
	case <-r.serveCtx.Done():
		return true
	default:
		return false
	}
}

// stopLimit is the time by which the whole shutdown must be over: the earliest
// of a Stop caller's deadline and the budget the parent gave this supervisor.
func (r *run) stopLimit() time.Time {
	r.stopMu.Lock()
	limit := r.stopBy
	r.stopMu.Unlock()
	if d, ok := child.StopDeadline(r.serveCtx); ok && (limit.IsZero() || d.Before(limit)) {
		limit = d
	}
	return limit
}

func (r *run) emit(ev Event) { r.emitSince(ev, time.Time{}) }

// emitSince is emit for an event whose Elapsed runs from since to the event's
// Time; it reads the clock only if somebody listens.
func (r *run) emitSince(ev Event, since time.Time) {
	ce := checkEvent(r.log, ev)
	if ce == nil && r.s.disp == nil {
		return // nobody listens: skip the clock and the fields
	}
	ev.Time = r.clock.Now()
	if !since.IsZero() {
		ev.Elapsed = ev.Time.Sub(since)
	}
	ev.Supervisor = r.path
	if ce != nil {
		writeEvent(ce, ev)
	}
	if r.s.disp != nil {
		r.s.disp.push(ev)
	}
}

func (r *run) childEvent(kind EventKind, e *entry, err error) Event {
	return Event{Kind: kind, Child: e.spec.ID, Restart: e.spec.Restart, Restarts: e.restarts, Err: err}
}

// serve is the body of Serve: start, loop, shut down.
func (r *run) serve() (err error) {
	defer func() {
		if r.waitTimer != nil {
			r.waitTimer.Stop()
		}
		for _, q := range r.deferredReqs {
			q.reply <- response{err: ErrStopping}
		}
		r.deferredReqs = nil
		r.emit(Event{Kind: SupervisorStopped, Err: err})
	}()
	if startErr := r.startAll(); startErr != nil {
		if errors.Is(startErr, ErrStopping) {
			startErr = nil // a requested stop, not a failure
		}
		return errors.Join(startErr, errors.Join(r.stopErrs...), r.shutdown())
	}
	close(r.ready)
	r.emit(Event{Kind: SupervisorReady})
	child.Ready(r.serveCtx)
	r.loop()
	return errors.Join(r.failure, errors.Join(r.stopErrs...), r.shutdown())
}

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

// launch starts a new incarnation of e on a goroutine of its own. A child
// that is not awaited counts as started at once; its bookkeeping is done
// before the goroutine starts, so that the new goroutine can run straight
// away on this core while the loop goes back to waiting.
func (r *run) launch(e *entry) *incarnation {
	ctx, cancel := context.WithCancel(e.base)
	inc := &incarnation{Context: ctx, e: e, r: r, cancel: cancel, started: r.clock.Now()}
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
		runCrashing(i, i.e.spec.Service, i.exit)
		return
	}
	child.Run(i, i.e.spec.Service, i.exit)
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

// runCrashing is child.Run without the recover: a panic crashes the process.
func runCrashing(ctx context.Context, svc child.Service, exit func(error)) {
	returned := false
	var err error
	defer func() {
		if returned {
			exit(err)
			return
		}
		exit(child.ErrGoexit) // runtime.Goexit, or a panic on its way to crash the process
	}()
	err = svc.Serve(ctx)
	returned = true
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

// loop handles exits, calls and timers until a stop is requested or the
// supervisor gives up.
func (r *run) loop() {
	for r.failure == nil && !r.autoStop {
		if len(r.deferred) > 0 {
			m := r.deferred[0]
			r.deferred = r.deferred[1:]
			r.handleMsg(m)
			continue
		}
		r.deferred = nil
		if len(r.deferredReqs) > 0 {
			q := r.deferredReqs[0]
			r.deferredReqs = r.deferredReqs[1:]
			r.handleReq(q)
			continue
		}
		if len(r.timers) > 0 && !r.timers[0].due.After(r.clock.Now()) {
			// A restart is due. Queued exits, calls and a stop go first, so the
			// supervisor stays responsive between back-to-back retries.
			if r.stopRequested() {
				return
			}
			select {
			case m := <-r.msgs:
				r.handleMsg(m)
			case q := <-r.reqs:
				r.handleReq(q)
			default:
				r.runDue()
			}
			continue
		}
		select {
		case m := <-r.msgs:
			r.handleMsg(m)
		case q := <-r.reqs:
			r.handleReq(q)
		case <-r.stopC:
			return
		case <-r.serveCtx.Done():
			return
		case <-r.timerC():
			r.armedC, r.armedStop = nil, nil // fired
		}
	}
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

func (r *run) handleMsg(m msg) {
	if !m.exit {
		return // a late ready from an incarnation no longer awaited
	}
	inc := m.inc
	inc.exited = true
	e := inc.e
	switch {
	case inc.abandoned:
		inc.abandoned = false
		e.abandoned--
		r.emit(r.childEvent(AbandonedReturned, e, m.err))
	case inc.handled || e.inc != inc:
		// Already dealt with: stopped while its exit was in flight.
	default:
		r.handleExit(e, inc, m.err)
	}
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

// setExit records e's last exit; requested says the supervisor had asked it to stop.
func (r *run) setExit(e *entry, err error, requested bool) {
	e.lastExit, e.lastAt, e.lastRequested = err, r.clock.Now(), requested
}

func (r *run) childInfos() []ChildInfo {
	list := r.children
	if r.opts.simple {
		list = r.instanceList()
	}
	infos := make([]ChildInfo, 0, len(list))
	for _, e := range list {
		info := ChildInfo{ID: e.spec.ID, Path: e.path, Kind: e.spec.Kind, Restart: e.spec.Restart, State: e.state,
			Restarts: e.restarts, Abandoned: e.abandoned, LastExit: e.lastExit, LastExitAt: e.lastAt, LastExitRequested: e.lastRequested}
		if e.inc != nil {
			info.Started = e.inc.started
		}
		infos = append(infos, info)
	}
	return infos
}

// handleReq carries out one API call and replies.
func (r *run) handleReq(q request) {
	var resp response
	switch q.op {
	case opStart:
		resp.err = r.apiStart(q.spec)
	case opTerminate:
		resp.err = r.apiTerminate(q.id, q.handle)
	case opRestart:
		resp.err = r.apiRestart(q.id)
	case opDelete:
		resp.err = r.apiDelete(q.id)
	case opApply:
		resp.val = r.apply(q.apply)
	case opChildren:
		resp.val = r.childInfos()
	case opStartInstance:
		resp.id, resp.err = r.apiStartInstance(q.svc)
	case opInfo:
		info := Info{
			Path:      r.path,
			Strategy:  r.opts.strategy,
			Intensity: r.opts.intensity,
			InWindow:  r.window.Len(r.clock.Now()),
			Children:  r.childInfos(),
		}
		select {
		case <-r.ready:
			info.Ready = true
		default:
		}
		info.Stopping = r.stopRequested()
		resp.val = info
	case opCount:
		if r.opts.simple {
			resp.val = r.countInstances()
			break
		}
		counts := Counts{Specs: len(r.children)}
		for _, e := range r.children {
			if e.inc != nil && e.state == Running {
				counts.Active++
			}
			if e.spec.Kind == child.Supervisor {
				counts.Supervisors++
			} else {
				counts.Workers++
			}
		}
		resp.val = counts
	case opSpec:
		if e := r.byID[q.id]; e != nil {
			resp.val = *e.spec
		} else {
			resp.err = fmt.Errorf("%w: %q", ErrNotFound, q.id)
		}
	}
	q.reply <- resp
}

func (r *run) apiStart(sp child.Spec) error {
	if r.opts.simple {
		return fmt.Errorf("%w: use StartChild of the Simple supervisor", ErrSimpleOneForOne)
	}
	if e := r.byID[sp.ID]; e != nil {
		if e.inc != nil {
			return fmt.Errorf("%w: %q", ErrAlreadyStarted, sp.ID)
		}
		return fmt.Errorf("%w: %q", ErrAlreadyPresent, sp.ID)
	}
	e := r.addOwnEntry(sp)
	if sub, ok := sp.Service.(*Supervisor); ok {
		r.dynMu.Lock()
		if r.dynSups == nil {
			r.dynSups = make(map[string]*Supervisor)
		}
		r.dynSups[sp.ID] = sub
		r.dynMu.Unlock()
	}
	err := r.startChild(e)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errIgnored):
		if sp.Restart == child.Temporary {
			r.remove(e)
		}
		return nil
	default:
		r.remove(e)
		return &StartError{Supervisor: r.path, Child: sp.ID, Err: err}
	}
}

func (r *run) apiTerminate(id string, handle bool) error {
	if r.opts.simple != handle {
		if handle {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return fmt.Errorf("%w: terminate instances by their Handle", ErrSimpleOneForOne)
	}
	if handle {
		return r.terminateInstance(id)
	}
	e := r.byID[id]
	if e == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	e.gen++ // drops a pending restart
	err := r.stopChild(e, time.Time{})
	e.state = Stopped
	if e.spec.Restart == child.Temporary {
		r.remove(e)
	}
	return err
}

func (r *run) apiRestart(id string) error {
	if r.opts.simple {
		return ErrSimpleOneForOne
	}
	e := r.byID[id]
	switch {
	case e == nil:
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	case e.inc != nil:
		return fmt.Errorf("%w: %q", ErrRunning, id)
	case e.state == Restarting:
		return fmt.Errorf("%w: %q", ErrRestarting, id)
	}
	err := r.startChild(e)
	if err == nil || errors.Is(err, errIgnored) {
		return nil
	}
	e.state = Stopped
	return &StartError{Supervisor: r.path, Child: id, Err: err}
}

func (r *run) apiDelete(id string) error {
	if r.opts.simple {
		return ErrSimpleOneForOne
	}
	e := r.byID[id]
	switch {
	case e == nil:
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	case e.inc != nil:
		return fmt.Errorf("%w: %q", ErrRunning, id)
	case e.state == Restarting:
		return fmt.Errorf("%w: %q", ErrRestarting, id)
	}
	r.remove(e)
	return nil
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
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*pending)) }
func (h *timerHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// dynamicSupervisor returns the *Supervisor service of a child added with
// StartChild; it is called from outside the run goroutine.
func (r *run) dynamicSupervisor(id string) *Supervisor {
	r.dynMu.Lock()
	defer r.dynMu.Unlock()
	return r.dynSups[id]
}
