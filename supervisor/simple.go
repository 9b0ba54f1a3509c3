package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

// Simple is a simple_one_for_one supervisor: it runs any number of instances
// of one template, each started at run time with an argument of type A and
// restarted with the same argument. It starts no children when it starts, and
// stops its instances in parallel under one shared budget, the template's
// Shutdown. Every method of [Supervisor] is available on it; RestartChild,
// DeleteChild and the spec-taking StartChild return [ErrSimpleOneForOne].
//
// Starting, exiting, restarting and terminating an instance cost the same
// however many instances run.
type Simple[A any] struct {
	*Supervisor
	start func(ctx context.Context, arg A) error
}

// Handle identifies one instance of a [Simple] supervisor, across its
// restarts. The zero Handle identifies nothing.
type Handle struct {
	id  string
	sup *Supervisor
}

// ID returns the instance's ID, such as "worker#42", as it appears in
// [Supervisor.Children] and in events.
func (h Handle) ID() string { return h.id }

// IsZero reports whether h identifies no instance: the start was ignored.
func (h Handle) IsZero() bool { return h.sup == nil }

// placeholder is the Service of a simple_one_for_one template: never run,
// since instances run the start function, and comparable, so Apply sees an
// unchanged template as unchanged.
var placeholder child.Service = templateService{}

type templateService struct{}

func (templateService) Serve(context.Context) error { return nil }

// NewSimple returns a simple_one_for_one supervisor whose instances run
// start with their argument. template gives every instance's spec; its ID
// prefixes the instances' IDs, and its Service must be nil. The options are
// those of [New], except that WithStrategy and WithAutoShutdown cannot be
// used.
func NewSimple[A any](name string, template child.Spec, start func(ctx context.Context, arg A) error, opts ...Option) (*Simple[A], error) {
	if start == nil {
		return nil, fmt.Errorf("%w: NewSimple: start function must not be nil", ErrInvalidOption)
	}
	if template.Service != nil {
		return nil, &child.SpecError{ID: template.ID, Field: "Service", Value: template.Service,
			Reason: "must be nil in a simple_one_for_one template: instances run the start function"}
	}
	template.Service = placeholder
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.strategy != strategy.OneForOne {
		return nil, fmt.Errorf("%w: WithStrategy(%v) cannot be used with NewSimple", ErrInvalidOption, o.strategy)
	}
	o.strategy, o.simple = strategy.SimpleOneForOne, true
	s, err := build(name, []child.Spec{template}, o)
	if err != nil {
		return nil, err
	}
	return &Simple[A]{Supervisor: s, start: start}, nil
}

// StartChild starts a new instance running start(ctx, arg), through the
// template's started handshake, and returns its handle. It returns a zero
// Handle and nil if the instance declined to start (child.ErrIgnore); nothing
// is kept then. A failed start returns a [*StartError] and keeps nothing.
func (p *Simple[A]) StartChild(ctx context.Context, arg A) (Handle, error) {
	start := p.start
	svc := child.Func(func(ctx context.Context) error { return start(ctx, arg) })
	resp, err := p.call(ctx, request{op: opStartInstance, svc: svc})
	if err != nil || resp.id == "" {
		return Handle{}, err
	}
	return Handle{id: resp.id, sup: p.Supervisor}, nil
}

// TerminateChild stops the instance h within the template's shutdown budget
// and forgets it. It returns nil for an instance that has already ended, and
// [ErrNotFound] for a handle of another supervisor.
func (p *Simple[A]) TerminateChild(ctx context.Context, h Handle) error {
	if h.sup != p.Supervisor {
		return fmt.Errorf("%w: handle %q belongs to another supervisor", ErrNotFound, h.id)
	}
	_, err := p.call(ctx, request{op: opTerminate, id: h.id, handle: true})
	return err
}

func (r *run) apiStartInstance(svc child.Service) (string, error) {
	n := r.s.instances.Add(1) // unique across Serves, so an old Handle never names a new instance
	sp := r.template
	sp.ID = r.template.ID + "#" + strconv.FormatUint(n, 10)
	sp.Service = svc
	e := newOwnEntry(sp)
	e.path, e.state, e.seq = r.path+"/"+sp.ID, Stopped, n
	e.base = labelled(r.base, e.path)
	if r.opts.newBackoff != nil {
		e.backoff = r.opts.newBackoff()
	}
	r.byID[sp.ID] = e
	err := r.startChild(e)
	switch {
	case err == nil:
		return sp.ID, nil
	case errors.Is(err, errIgnored):
		r.remove(e)
		return "", nil
	default:
		r.remove(e)
		return "", &StartError{Supervisor: r.path, Child: sp.ID, Err: err}
	}
}

func (r *run) terminateInstance(id string) error {
	e := r.byID[id]
	if e == nil {
		return nil // it has already ended: terminating it again is a no-op
	}
	e.gen++
	err := r.stopChild(e, time.Time{})
	r.remove(e)
	return err
}

// instanceList returns the instances in start order.
func (r *run) instanceList() []*entry {
	list := make([]*entry, 0, len(r.byID))
	for _, e := range r.byID {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	return list
}

// countInstances counts as OTP does: one spec; active instances exclude
// those restarting; the kind count includes every instance.
func (r *run) countInstances() Counts {
	c := Counts{Specs: 1}
	for _, e := range r.byID {
		if e.inc != nil && e.state == Running {
			c.Active++
		}
	}
	if r.template.Kind == child.Supervisor {
		c.Supervisors = len(r.byID)
	} else {
		c.Workers = len(r.byID)
	}
	return c
}

// stopInstances stops every instance at once, under one shared budget: the
// template's Shutdown, bounded by limit. Instances still running when it
// runs out are abandoned and reported.
func (r *run) stopInstances(limit time.Time) error {
	now := r.clock.Now()
	budget, bounded := stopBudget(r.template.Shutdown, limit, now)
	waiting := make(map[*incarnation]*entry)
	for _, e := range r.byID {
		inc := e.inc
		if inc == nil {
			continue
		}
		e.inc, e.state, inc.handled = nil, Stopped, true
		if inc.exited {
			continue
		}
		if bounded {
			inc.stopBy.Store(now.Add(budget).UnixNano())
		}
		inc.cancel()
		e.state = Stopping
		waiting[inc] = e
	}
	var timer <-chan time.Time
	if bounded && len(waiting) > 0 {
		timer = r.waitFor(budget)
		defer r.endWait()
	}
	for len(waiting) > 0 {
		select {
		case m := <-r.msgs:
			if e, ok := waiting[m.inc]; ok && m.exit {
				delete(waiting, m.inc)
				e.state = Stopped
				m.inc.exited = true
				r.setExit(e, m.err, true)
				r.emitSince(r.childEvent(ChildStopped, e, panicOrGoexit(m.err)), now)
			}
		case q := <-r.reqs:
			r.handleReqWhileBusy(q, r.path)
		case <-timer:
			var errs []error
			for inc, e := range waiting {
				e.state = Stopped
				inc.abandoned = true
				e.abandoned++
				if r.template.Shutdown == child.BrutalKill {
					r.emit(r.childEvent(ChildAbandoned, e, nil)) // expected: BrutalKill never waits
					continue
				}
				err := &StopTimeoutError{Supervisor: r.path, Child: e.spec.ID, Budget: budget, Stacks: GoroutineStacks(e.path)}
				r.emitSince(r.childEvent(ChildAbandoned, e, err), now)
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		}
	}
	return nil
}
