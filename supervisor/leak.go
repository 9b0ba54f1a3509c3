package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/arborgo/arbor/internal/goroutines"
)

// ErrGoroutineLeak matches every [*LeakError].
var ErrGoroutineLeak = errors.New("supervisor: goroutines left running by a child")

// LeakError reports goroutines that a child incarnation started and left
// running after it returned: still carrying its pprof label
// ([LabelIncarnation]) when the grace period given to [WithLeakCheck] was
// over. It matches [ErrGoroutineLeak].
type LeakError struct {
	Supervisor  string        // path of the supervisor
	Child       string        // ID of the child
	Incarnation uint64        // the incarnation that returned (Event.Incarnation)
	Goroutines  int           // how many goroutines it left
	Grace       time.Duration // how long after its return they still ran
	Stacks      string        // their stacks
}

// Error names the child, its incarnation and the count.
func (e *LeakError) Error() string {
	return fmt.Sprintf("supervisor %s: child %q (incarnation %d) left %d goroutine(s) running %v after it returned",
		e.Supervisor, e.Child, e.Incarnation, e.Goroutines, e.Grace)
}

// Is makes a LeakError match [ErrGoroutineLeak].
func (e *LeakError) Is(target error) bool { return target == ErrGoroutineLeak }

// WithLeakCheck makes the supervisor look, grace after each child
// incarnation has returned, for goroutines it started and left running (Go
// gives a goroutine the pprof labels of the one that starts it, and each
// incarnation's goroutine carries [LabelIncarnation]). Each one found is
// reported by a [ChildLeaked] event with a [*LeakError] (stacks included),
// logged at Warn, and counted by the prom package. The grace is read on the
// supervisor's clock. Off by default, because a check takes a goroutine
// profile and labels cost an allocation per start; checks that come due
// together share one profile. Nested supervisors do not inherit it. For
// tests, supervisortest.FailOnLeak turns the events into test failures.
func WithLeakCheck(grace time.Duration) Option {
	return optionFunc(func(o *options) { o.leakGrace = grace })
}

// leakLabel returns the LabelIncarnation value of inc: unique in the
// process, as the tree, the run and the path are.
func (r *run) leakLabel(inc *incarnation) string {
	return r.tree + ":" + strconv.FormatUint(r.id, 10) + ":" + inc.e.path + "#" + strconv.FormatUint(inc.n, 10)
}

// leakCheck is one incarnation to look at once due.
type leakCheck struct {
	due   time.Time
	label string
	ev    Event // the ChildLeaked event to report, but for Err
}

// leaks checks the returned incarnations of a run for goroutines left
// behind, on a goroutine of its own that runs while checks are pending and
// the run goes on.
type leaks struct {
	r *run

	mu      sync.Mutex
	pending []leakCheck   // guarded by mu: in due order (one grace for all)
	running bool          // guarded by mu: the checking goroutine runs
	wake    chan struct{} // buffered (1): a check was added
}

// schedule adds inc, which has just returned, to the checks. It is called
// on the incarnation's goroutine, after Serve returned, so it reads only what
// is immutable.
func (l *leaks) schedule(inc *incarnation) {
	e := inc.e
	ev := Event{Kind: ChildLeaked, Child: e.spec.ID, Template: e.template, Incarnation: inc.n, Restart: e.spec.Restart}
	c := leakCheck{due: l.r.clock.Now().Add(l.r.opts.leakGrace), label: inc.label, ev: ev}
	l.mu.Lock()
	l.pending = append(l.pending, c)
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		// Ends when no check is pending, or when the run ends.
		go l.run()
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run waits for the earliest due check, then takes one profile for every
// check due by then.
func (l *leaks) run() {
	// It is no child's: without this it would carry the labels of the
	// goroutine that started it.
	pprof.SetGoroutineLabels(context.Background())
	r := l.r
	for {
		l.mu.Lock()
		if len(l.pending) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		due := l.pending[0].due
		l.mu.Unlock()
		if wait := due.Sub(r.clock.Now()); wait > 0 {
			timer, stop := newTimer(r.clock, wait)
			select {
			case <-timer:
			case <-l.wake:
				stop()
				continue
			case <-r.done:
				stop()
				l.mu.Lock()
				l.pending, l.running = nil, false
				l.mu.Unlock()
				return
			}
		}
		now := r.clock.Now()
		l.mu.Lock()
		n := 0
		for n < len(l.pending) && !l.pending[n].due.After(now) {
			n++
		}
		due2 := l.pending[:n:n] // appends to pending write past n, never before
		l.pending = l.pending[n:]
		l.mu.Unlock()
		if len(due2) == 0 {
			continue
		}
		profile := goroutines.Take(LabelIncarnation, goroutines.Label{Key: LabelTree, Value: r.tree})
		for _, c := range due2 {
			g := profile.Exact(c.label)
			if g.Count == 0 {
				continue
			}
			ev := c.ev
			ev.Err = &LeakError{Supervisor: r.path, Child: ev.Child, Incarnation: ev.Incarnation, Goroutines: g.Count,
				Grace: r.opts.leakGrace, Stacks: g.Stacks}
			r.emit(ev)
		}
	}
}
