package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

// Supervisor runs a list of children and keeps them running: OTP's
// supervisor. Build one with [New], run it with [Supervisor.Serve] (or
// [Supervisor.Start] and [Supervisor.Stop]), and nest it in another by using it
// as a child's [child.Service].
//
// All of a supervisor's state belongs to one goroutine, the one running Serve;
// every method is a message to it, so methods are safe from any goroutine,
// including from inside a child.
//
// The zero Supervisor is not usable: its methods that return an error return
// [ErrNotBuilt], and the others harmless values (Ready nil, Config the zero
// Config, Name "", Strategy the zero Strategy). So do those of a zero [Simple].
type Supervisor struct {
	name string
	disp *dispatcher // nil without hooks; immutable

	instances atomic.Uint64 // simple_one_for_one instances ever started, across Serves: their IDs

	mu    sync.Mutex
	specs []child.Spec // guarded by mu: validated, with defaults; what the next Serve starts
	opts  options      // guarded by mu: replaced whole by Apply
	cur   *run         // guarded by mu: the Serve in progress, or nil
	last  *run         // guarded by mu: the most recent Serve, running or not
}

var _ child.Service = (*Supervisor)(nil)

// New returns a supervisor named name for children declared in specs, in the
// order they start. It checks every spec and option and returns an error that
// names the bad field; it starts nothing.
func New(name string, specs []child.Spec, opts ...Option) (*Supervisor, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: name must not be empty", ErrInvalidOption)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return build(name, specs, o)
}

func build(name string, specs []child.Spec, o options) (*Supervisor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	checked, err := checkSpecs(specs, &o)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{name: name, specs: checked, opts: o}
	if len(o.hooks) > 0 {
		s.disp = &dispatcher{hooks: o.hooks, log: o.logger}
	}
	return s, nil
}

// CheckSpecs validates specs as [New] would with opts, without building
// anything: each spec's fields, unique IDs, and significant children only
// under an auto-shutdown setting (OTP's check_childspecs).
func CheckSpecs(specs []child.Spec, opts ...Option) error {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	_, err := checkSpecs(specs, &o)
	return err
}

func checkSpecs(specs []child.Spec, o *options) ([]child.Spec, error) {
	out := make([]child.Spec, len(specs))
	seen := make(map[string]struct{}, len(specs))
	for i, sp := range specs {
		if err := sp.Validate(); err != nil {
			return nil, fmt.Errorf("supervisor: spec %d: %w", i, err)
		}
		if err := checkSignificant(sp, o.autoShutdown); err != nil {
			return nil, fmt.Errorf("supervisor: spec %d: %w", i, err)
		}
		if _, dup := seen[sp.ID]; dup {
			return nil, fmt.Errorf("%w: %q (spec %d)", ErrDuplicateID, sp.ID, i)
		}
		seen[sp.ID] = struct{}{}
		out[i] = sp.WithDefaults()
	}
	return out, nil
}

// Name returns the name given to [New].
func (s *Supervisor) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// String returns the supervisor's name.
func (s *Supervisor) String() string { return "supervisor " + s.Name() }

// Strategy returns the supervisor's restart strategy.
func (s *Supervisor) Strategy() strategy.Strategy {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.strategy
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
// Serve may be called again after it returns; each call starts afresh from the
// specs given to New (or the configuration last given to [Supervisor.Apply]),
// as a restarted OTP supervisor does: children added with StartChild are gone.
// It returns [ErrAlreadyServing] while another Serve runs, unless that one has
// been asked to stop: then the new Serve begins at once, and the earlier one
// finishes its shutdown by itself. That is how a parent restarts a nested
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
	defer s.mu.Unlock()
	if s.cur != nil && !s.cur.stopRequested() {
		return nil, ErrAlreadyServing
	}
	// A run that is only finishing its shutdown (abandoned by its parent,
	// for instance, which restarts it) does not hold up the new one: it ends
	// by itself, and its result goes to whoever waits on its done channel.
	r := newRun(s, ctx)
	s.cur, s.last = r, r
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

// Start runs Serve on a goroutine of its own and returns once every child has
// started, or with Serve's error if the start failed. ctx bounds only the
// start; use [Supervisor.Stop] to stop the supervisor and [Supervisor.Wait] to
// wait for it to end.
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
		<-r.done
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
	r := s.last
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	deadline, _ := ctx.Deadline()
	r.requestStop(deadline)
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	// The deadline has passed: the loop abandons what still runs and
	// returns. It was told by its own timer on its clock; tell it now, in
	// wall-clock time, in case its clock is another.
	r.requestStop(time.Now())
	grace := time.NewTimer(StopGrace)
	defer grace.Stop()
	select {
	case <-r.done:
		return r.err
	case <-grace.C:
		return ctx.Err()
	}
}

// StopGrace is how long [Supervisor.Stop] waits past its deadline for the
// shutdown's result: the time to cut the children still running, take one
// goroutine profile for their reports, and return. It is not a budget given
// to children.
const StopGrace = time.Second

// Wait blocks until the most recent Serve has returned and returns its result;
// it returns nil at once if Serve was never called.
func (s *Supervisor) Wait() error {
	if s.unbuilt() {
		return ErrNotBuilt
	}
	s.mu.Lock()
	r := s.last
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	<-r.done
	return r.err
}

// Ready returns a channel closed once the current (or most recent) Serve has
// started every child, or nil if Serve has not been called.
func (s *Supervisor) Ready() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return nil
	}
	return s.last.ready
}
