package supervisor

import (
	"context"
	"errors"
	"runtime/pprof"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/internal/control"
)

// run is one call of Serve: the state machine and everything it owns.
type run struct {
	s       *Supervisor
	opts    options // a copy: Apply changes it without touching the Supervisor's
	clock   Clock
	log     *zap.Logger // the reports' logger: with the path, no caller, no stack trace of its own
	baseLog *zap.Logger // the logger it was given or inherited, which nested supervisors inherit
	disp    *dispatcher // its hooks, or those it inherited; nil without any
	path    string

	tree     string        // the tree's identity (LabelTree): a root's own, or its parent's
	cut      chan struct{} // closed once a cut shutdown has cancelled every child (see begin)
	cutOnce  sync.Once
	leaks    leaks           // WithLeakCheck's checks
	serveCtx context.Context // Serve's ctx: its end asks for a stop
	// serveCtl is serveCtx's control (the parent's incarnation, or the
	// runner's), or nil: looked up once, since a lookup through a detached
	// context allocates, and stopLimit asks it for every child it stops.
	serveCtl control.Control
	base     context.Context // parent of every incarnation's ctx: serveCtx's values, not its cancellation

	*lifecycle // its inbox, its ready and done channels, result and stop requests

	dynMu   sync.Mutex
	dynSups map[string]subtree // guarded by dynMu: nested supervisors added with StartChild, for Tree

	termMu sync.Mutex
	terms  map[*incarnation]*Term // guarded by termMu: the term each leading singleton's incarnation holds (ReportTerm)

	// Owned by the run goroutine.
	children      []*entry // start order; a removed child leaves a nil hole (see remove)
	holes         int      // nil entries in children
	byID          map[string]*entry
	window        *escalation.Window
	retired       map[string]uint64 // incarnation counts of removed static children, by ID
	deferred      []msg             // exits that arrived while the loop waited on one child
	deferredReqs  []*request        // mutating calls that arrived while the loop waited on one child
	timers        timerHeap         // restarts waiting for their time
	armedDue      time.Time         // when the armed restart timer fires (see arm)
	armGen        uint32            // numbers the armings of the restart timer; never 0
	startDeadline time.Time         // overall start deadline during the initial start; zero otherwise
	failure       error             // set when the supervisor must give up
	stopping      bool              // shutdown has begun
	stopErrs      []error           // abandonments while a stop interrupted a start
	autoStop      bool              // set when significant children shut the supervisor down
	seq           uint64            // orders restarts due at the same time
	waitTimer     *time.Timer       // reused by waitFor with the system clock
	waitStop      func() bool       // stops waitFor's timer with a TimerClock
	armedStop     func() bool       // stops the armed restart timer; nil when none is armed or it has fired

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
	incs          uint64  // incarnations launched in this run: the latest one's number
	abandoned     int     // abandoned incarnations that have not returned
	gen           uint64  // bumped to cancel a pending restart
	pos           int     // its index in run.children (static children)
	seq           uint64  // simple_one_for_one: start order
	template      string  // simple_one_for_one: the template's ID (immutable)
	backoff       BackOff // nil without WithBackoff
	lastExit      error
	lastAt        time.Time // when lastExit happened
	lastRequested bool      // lastExit followed a stop the supervisor asked for
	// parked is a retry held back until the abandoned incarnations of the
	// child have returned: its last start failed while one of them still ran
	// (it may hold what the new one needs, such as a listening port), and
	// retrying at once would only spend the restart intensity.
	parked *pending
}

// noStacktrace turns off zap's automatic stack traces on a report: the loop's
// own stack says nothing; a panic's or an abandoned child's is set on the
// entry instead (see writeEvent).
var noStacktrace = zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })

func newRun(s *Supervisor, ctx context.Context, l *lifecycle) *run {
	path := child.Path(ctx)
	if path == "" {
		path = s.name
	}
	logger, disp := s.opts.logger, s.disp
	var tree string
	if parent := callerOf(ctx); parent != nil {
		tree = parent.r.tree
		// Nested: what it does not set itself, it inherits from its parent's
		// run, so that its reports are not lost.
		if !s.opts.loggerSet {
			logger = parent.r.baseLog
		}
		if disp == nil {
			disp = parent.r.disp
		}
	} else {
		tree = s.treeLabel()
	}
	r := &run{
		s:         s,
		opts:      s.opts,
		clock:     s.opts.clock,
		baseLog:   logger,
		log:       logger.WithOptions(zap.WithCaller(false), zap.AddStacktrace(noStacktrace)).With(zap.String("supervisor", path)),
		disp:      disp,
		path:      path,
		serveCtx:  ctx,
		serveCtl:  control.From(ctx),
		tree:      tree,
		base:      runBase(ctx, tree),
		lifecycle: l,
		byID:      make(map[string]*entry, len(s.specs)),
		window:    escalation.NewWindow(s.opts.flags.Intensity),
	}
	r.leaks = leaks{r: r, wake: make(chan struct{}, 1)}
	r.cut = make(chan struct{})
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
func runBase(ctx context.Context, tree string) context.Context {
	base := control.With(context.WithoutCancel(ctx), controlMark)
	return pprof.WithLabels(base, pprof.Labels(LabelTree, tree))
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
	e.path, e.state = r.path+"/"+sp.ID, StateStopped
	e.base = labelled(r.base, e.path)
	if n, ok := r.retired[sp.ID]; ok {
		// The ID was used before in this run: its incarnations go on counting,
		// so Run, Child and Incarnation still name one call of Serve.
		e.incs = n
		delete(r.retired, sp.ID)
	}
	if r.opts.newBackoff != nil {
		e.backoff = r.opts.newBackoff()
	}
	e.pos = len(r.children)
	r.children = append(r.children, e)
	r.byID[sp.ID] = e
	return e
}

// retire marks e removed and keeps its incarnation count for a later child
// with the same ID (simple_one_for_one instance IDs never repeat).
func (r *run) retire(e *entry) {
	e.removed = true
	if r.opts.simple || e.incs == 0 {
		return
	}
	if r.retired == nil {
		r.retired = make(map[string]uint64)
	}
	r.retired[e.spec.ID] = e.incs
}

func (r *run) remove(e *entry) {
	if e.removed {
		return // removed already: its ID and position may be another entry's now
	}
	r.retire(e)
	if r.byID[e.spec.ID] == e {
		delete(r.byID, e.spec.ID)
	}
	if _, ok := e.spec.Service.(subtree); ok {
		r.dynMu.Lock()
		delete(r.dynSups, e.spec.ID)
		r.dynMu.Unlock()
	}
	if r.opts.simple {
		return
	}
	// O(1): the entry leaves a hole at its position; the list is compacted
	// once holes are half of it, or when its order is next needed.
	if e.pos >= len(r.children) || r.children[e.pos] != e {
		return // not in the list (a defensive check: positions are kept by compact and apply)
	}
	r.children[e.pos] = nil
	r.holes++
	if 2*r.holes > len(r.children) {
		r.compact()
	}
}

// ordered returns the children in start order, without holes.
func (r *run) ordered() []*entry {
	if r.holes > 0 {
		r.compact()
	}
	return r.children
}

// compact closes the holes removals left in the child list.
func (r *run) compact() {
	kept := r.children[:0]
	for _, e := range r.children {
		if e != nil {
			e.pos = len(kept)
			kept = append(kept, e)
		}
	}
	clear(r.children[len(kept):])
	r.children, r.holes = kept, 0
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
	limit := r.stopDeadline()
	if r.serveCtl == nil {
		return limit
	}
	if d, ok := r.serveCtl.StopDeadline(); ok && (limit.IsZero() || d.Before(limit)) {
		limit = d
	}
	return limit
}

func (r *run) emit(ev Event) { r.emitSince(ev, time.Time{}) }

// emitSince is emit for an event whose Elapsed runs from since to the event's
// Time; it reads the clock only if somebody listens.
func (r *run) emitSince(ev Event, since time.Time) {
	ce := checkEvent(r.log, ev)
	if ce == nil && r.disp == nil {
		return // nobody listens: skip the clock and the fields
	}
	ev.Time = r.clock.Now()
	if !since.IsZero() {
		ev.Elapsed = ev.Time.Sub(since)
	}
	ev.Supervisor, ev.Run = r.path, r.id
	if ce != nil {
		writeEvent(ce, ev)
	}
	if r.disp != nil {
		r.disp.push(ev)
	}
}

// childEvent is an event about e's latest incarnation.
func (r *run) childEvent(kind EventKind, e *entry, err error) Event {
	return Event{Kind: kind, Child: e.spec.ID, Template: e.template, Incarnation: e.incs, Restart: e.spec.Restart, Restarts: e.restarts, Err: err}
}

// incEvent is an event about the incarnation inc, which may be an older one
// than its child's latest (an abandoned one returning).
func (r *run) incEvent(kind EventKind, inc *incarnation, err error) Event {
	ev := r.childEvent(kind, inc.e, err)
	ev.Incarnation = inc.n
	return ev
}

// serve is the body of Serve: start, loop, shut down.
func (r *run) serve() (err error) {
	defer func() {
		if v := recover(); v != nil {
			// A bug in the loop itself: no child may outlive it uncancelled.
			// Their contexts are cancelled, then the panic goes on, to the
			// parent (which reports it) or to the program.
			r.cancelRunning()
			r.disarm()
			panic(v)
		}
	}()
	// The end of ctx asks for a stop: the loop, waiting on its inbox alone,
	// is woken to see it.
	defer context.AfterFunc(r.serveCtx, r.wake)()
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

// loop handles exits, calls and timers until a stop is requested or the
// supervisor gives up.
func (r *run) loop() {
	for r.failure == nil && !r.autoStop {
		if len(r.deferred) > 0 {
			// Exits that arrived while the loop was busy are handled even
			// after a stop was asked for, so that each is reported as what
			// it was; restart refuses to restart anything then.
			m := r.deferred[0]
			r.deferred = r.deferred[1:]
			r.handleMsg(m)
			continue
		}
		r.deferred = nil
		if r.stopRequested() {
			return // deferred calls get ErrStopping from serve
		}
		if len(r.deferredReqs) > 0 {
			q := r.deferredReqs[0]
			r.deferredReqs = r.deferredReqs[1:]
			r.handleReq(q)
			continue
		}
		if len(r.timers) > 0 && !r.timers[0].due.After(r.clock.Now()) {
			// A restart is due. Queued exits, calls and a stop go first, so the
			// supervisor stays responsive between back-to-back retries.
			select {
			case m := <-r.msgs:
				r.handleMsg(m)
			default:
				r.runDue()
			}
			continue
		}
		// Every source of work has been looked at: wait for the next message.
		// A stop and the earliest pending restart post a wake-up.
		r.arm()
		r.handleMsg(<-r.msgs)
	}
}

// handleMsg handles a message taken from the inbox by the loop itself, or an
// exit deferred while the loop waited on one child.
func (r *run) handleMsg(m msg) {
	switch m.kind {
	case msgCall:
		if q := m.call.take(); q != nil {
			r.handleReq(q)
		}
		return
	case msgWake:
		r.woken(m)
		return
	case msgReady:
		close(m.ack) // a late ready from an incarnation no longer awaited
		return
	}
	inc := m.inc
	inc.exited = true
	e := inc.e
	switch {
	case inc.abandoned:
		inc.abandoned = false
		e.abandoned--
		ev := r.incEvent(AbandonedReturned, inc, m.err)
		ev.Returned = m.err
		r.emit(ev)
		if p := e.parked; p != nil && e.abandoned == 0 {
			e.parked = nil
			p.due = r.clock.Now()
			r.schedule(p)
		}
	case inc.handled || e.inc != inc:
		// Already dealt with: stopped while its exit was in flight.
	default:
		r.handleExit(e, inc, m.err)
	}
}

// setExit records e's last exit; requested says the supervisor had asked it to stop.
func (r *run) setExit(e *entry, err error, requested bool) {
	e.lastExit, e.lastAt, e.lastRequested = err, r.clock.Now(), requested
}

// aside handles a message that the loop, waiting on one child or group
// (busy, as for handleReqWhileBusy), takes from the inbox and that comes from
// no incarnation: a call, answered or deferred as handleReqWhileBusy says, or
// a wake-up. It reports whether m was one; the waiter handles the others.
func (r *run) aside(m msg, busy string) bool {
	switch m.kind {
	case msgCall:
		if q := m.call.take(); q != nil {
			r.handleReqWhileBusy(q, busy)
		}
	case msgWake:
		r.woken(m)
	default:
		return false
	}
	return true
}

// woken notes a wake-up: one from the armed restart timer means it has fired.
// A stop needs nothing: the loop looks for one before it waits again.
func (r *run) woken(m msg) {
	if m.gen != 0 && m.gen == r.armGen {
		r.armedStop = nil // fired: the next arm makes a new timer
	}
}
