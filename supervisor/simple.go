package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

// Simple is a simple_one_for_one supervisor: it runs any number of instances
// of one template, each started at run time with an argument of type A and
// restarted with the same argument. An instance that is not restarted (a
// temporary one, a transient one that ended normally) is deleted, as in OTP;
// it is never kept, stopped. It starts no children when it starts, and
// stops its instances in parallel under one shared budget, the template's
// Shutdown.
//
// Its methods are those of a [Supervisor] that apply to it: the lifecycle
// (Serve, Start, Stop, Wait, Ready, Done), snapshots (Children,
// CountChildren, ChildSpec, Info, Tree), Config and Apply (for the template
// and the flags), and its own StartChild and TerminateChild, which take an
// argument and a [Handle]. It is a [child.Service], so it nests in a tree
// like any supervisor, and a parent's [Supervisor.Tree] includes it.
//
// Starting, exiting, restarting and terminating an instance cost the same
// however many instances run.
type Simple[A any] struct {
	sup   *Supervisor // nil in a zero Simple: every method returns ErrNotBuilt
	start func(ctx context.Context, arg A) error
}

var _ child.Supervising = (*Simple[int])(nil)

// Supervising marks a Simple as a supervisor for [child.Spec] (see
// [Supervisor.Supervising]). It does nothing.
func (p *Simple[A]) Supervising() {}

func (p *Simple[A]) supervisorOf() *Supervisor { return p.sup }

// Name returns the name given to [NewSimple].
func (p *Simple[A]) Name() string { return p.sup.Name() }

// String returns the supervisor's name.
func (p *Simple[A]) String() string { return p.sup.String() }

// Serve runs the supervisor as [Supervisor.Serve] does, with no instances at
// first.
func (p *Simple[A]) Serve(ctx context.Context) error { return p.sup.Serve(ctx) }

// Start runs Serve on a goroutine of its own, as [Supervisor.Start] does.
func (p *Simple[A]) Start(ctx context.Context) error { return p.sup.Start(ctx) }

// Stop stops every instance, in parallel under the template's budget, as
// [Supervisor.Stop] does.
func (p *Simple[A]) Stop(ctx context.Context) error { return p.sup.Stop(ctx) }

// Wait waits for Serve to return, as [Supervisor.Wait] does.
func (p *Simple[A]) Wait() error { return p.sup.Wait() }

// Done is [Supervisor.Done].
func (p *Simple[A]) Done() <-chan struct{} { return p.sup.Done() }

// Ready is [Supervisor.Ready]: closed once Serve has begun (it starts no
// instances of its own).
func (p *Simple[A]) Ready() <-chan struct{} { return p.sup.Ready() }

// Children lists the instances in start order.
func (p *Simple[A]) Children(ctx context.Context) ([]ChildInfo, error) { return p.sup.Children(ctx) }

// CountChildren counts as OTP does for simple_one_for_one: one spec, the
// active instances, and every instance by kind.
func (p *Simple[A]) CountChildren(ctx context.Context) (Counts, error) {
	return p.sup.CountChildren(ctx)
}

// ChildSpec returns the spec of the instance with that ID.
func (p *Simple[A]) ChildSpec(ctx context.Context, id string) (child.Spec, error) {
	return p.sup.ChildSpec(ctx, id)
}

// Info returns a view of the supervisor and its instances.
func (p *Simple[A]) Info(ctx context.Context) (Info, error) { return p.sup.Info(ctx) }

// Tree returns a view of the supervisor and its instances, as a leaf of a
// tree.
func (p *Simple[A]) Tree(ctx context.Context) (*Tree, error) { return p.sup.Tree(ctx) }

// Config returns the template (as the one child) and the flags.
func (p *Simple[A]) Config() Config { return p.sup.Config() }

// Apply changes the template and the flags, as [Supervisor.Apply] does: cfg
// holds exactly one child spec, whose Service must be nil. Running instances
// keep the spec they started with; new ones get the new template.
func (p *Simple[A]) Apply(ctx context.Context, cfg Config) (Changes, error) {
	return p.sup.Apply(ctx, cfg)
}

// Handle identifies one instance of a [Simple] supervisor, across its
// restarts. The zero Handle identifies nothing.
type Handle struct {
	id  string
	sup *Supervisor
}

// ID returns the instance's ID, such as "worker#42", as it appears in
// [Simple.Children] and in events.
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
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.flags.Strategy != strategy.OneForOne {
		return nil, fmt.Errorf("%w: WithStrategy(%v) cannot be used with NewSimple", ErrInvalidOption, o.flags.Strategy)
	}
	o.flags.Strategy, o.simple = strategy.SimpleOneForOne, true
	s, err := build(name, []child.Spec{template}, o)
	if err != nil {
		return nil, err
	}
	return &Simple[A]{sup: s, start: start}, nil
}

// StartChild starts a new instance running start(ctx, arg), through the
// template's started handshake, and returns its handle. It returns a zero
// Handle and nil if the instance declined to start (child.ErrIgnore); nothing
// is kept then. A failed start returns a [*StartError] and keeps nothing.
//
// ctx bounds the call, the start included. If ctx ends first, StartChild
// returns ctx.Err() together with the Handle the instance has or would have
// had. The supervisor starts no instance for a call whose ctx has ended, and
// stops an instance whose start the ctx interrupted; only a start that
// completed as ctx ended can leave the instance running, so a caller that
// must be sure calls TerminateChild with that Handle (which does nothing for
// an instance that never started or has ended).
func (p *Simple[A]) StartChild(ctx context.Context, arg A) (Handle, error) {
	if p.sup.unbuilt() {
		return Handle{}, ErrNotBuilt
	}
	start := p.start
	svc := child.Func(func(ctx context.Context) error { return start(ctx, arg) })
	s := p.sup
	n := s.instances.Add(1) // unique across Serves, so an old Handle never names a new instance
	s.mu.Lock()
	id := s.specs[0].ID + "#" + strconv.FormatUint(n, 10)
	s.mu.Unlock()
	resp, err := s.call(ctx, request{op: opStartInstance, svc: svc, id: id, seq: n, ctx: ctx})
	if ctxErr := ctx.Err(); ctxErr != nil && err == ctxErr {
		return Handle{id: id, sup: s}, err
	}
	if err != nil || resp.id == "" {
		return Handle{}, err
	}
	return Handle{id: resp.id, sup: s}, nil
}

// TerminateChild stops the instance h within the template's shutdown budget
// and forgets it. It returns nil for an instance that has already ended, and
// [ErrNotFound] for a handle of another supervisor.
func (p *Simple[A]) TerminateChild(ctx context.Context, h Handle) error {
	if p.sup.unbuilt() {
		return ErrNotBuilt
	}
	if h.sup != p.sup {
		return fmt.Errorf("%w: handle %q belongs to another supervisor", ErrNotFound, h.id)
	}
	_, err := p.sup.call(ctx, request{op: opTerminate, id: h.id, handle: true})
	return err
}

func (r *run) apiStartInstance(q *request) (string, error) {
	if err := q.ctx.Err(); err != nil {
		return "", err // the caller has gone: nothing to start for it
	}
	sp := r.template
	sp.ID = q.id
	sp.Service = q.svc
	e := newOwnEntry(sp)
	e.path, e.state, e.seq, e.template = r.path+"/"+sp.ID, StateStopped, q.seq, r.template.ID
	e.base = labelled(r.base, e.path)
	if r.opts.newBackoff != nil {
		e.backoff = r.opts.newBackoff()
	}
	r.byID[sp.ID] = e
	err := r.startChildUntil(e, q.ctx.Done())
	switch {
	case err == nil:
		return sp.ID, nil
	case errors.Is(err, errIgnored):
		r.remove(e)
		return "", nil
	case errors.Is(err, errCallerGone):
		r.remove(e)
		return "", q.ctx.Err()
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
	err := r.stopChild(e)
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
		if e.inc != nil && e.state == StateRunning {
			c.Active++
		}
	}
	if r.template.Kind == child.KindSupervisor {
		c.Supervisors = len(r.byID)
	} else {
		c.Workers = len(r.byID)
	}
	return c
}

// stopInstances stops every instance at once, under one shared budget: the
// template's Shutdown, bounded by the stop limit. Instances still running when
// it runs out are abandoned and reported.
func (r *run) stopInstances() error {
	return errors.Join(r.stopAll(r.instanceList(), r.template.Shutdown)...)
}
