package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/control"
)

// Errors returned by [Singleton], matched with [errors.Is].
var (
	// ErrNilElector is returned by Singleton when no Elector is given.
	ErrNilElector = errors.New("cluster: nil elector")

	// ErrBudget is returned by Singleton when the wrapped child's shutdown
	// budget does not fit in the elector's margin: on losing its lease, the
	// child could still run when another node is promoted.
	ErrBudget = errors.New("cluster: child's shutdown budget does not fit the elector's margin")
)

// Leadership reports a change of a singleton's leadership on this node,
// delivered to the hook given with [WithLeadershipHook].
type Leadership struct {
	// Name is the singleton's name in the elector.
	Name string
	// Token is the term's fencing token.
	Token Token
	// Leading is true when the term begins (the child is about to start)
	// and false when it has ended: the child has returned, and, unless the
	// term was lost, the lease has been released.
	Leading bool
	// Lost is true, for the end of a term, when Lease.Lost closed (the
	// lease was lost, or taken over): reported as soon as the child has
	// returned, before the lease is released. False when the node released
	// the lease by its own choice (a hand-off or the child's own exit).
	Lost bool
	// Err is, for the end of a term released by choice, the error Release
	// returned, if any; nil for a lost term.
	Err error
}

// SingletonOption configures [Singleton].
type SingletonOption interface{ apply(*singletonOptions) }

type singletonOptions struct {
	name string
	hook func(Leadership)
}

type singletonOptionFunc func(*singletonOptions)

func (f singletonOptionFunc) apply(o *singletonOptions) { f(o) }

// WithName sets the name the singleton campaigns for, which must be the same
// on every node. Default: the spec's ID. The last one given wins.
func WithName(name string) SingletonOption {
	return singletonOptionFunc(func(o *singletonOptions) { o.name = name })
}

// WithLeadershipHook sets a function called when this node's term begins and
// when it ends. It is called on the singleton's goroutine, so it must not
// block. Default: none. Repeating it keeps the last one.
func WithLeadershipHook(h func(Leadership)) SingletonOption {
	return singletonOptionFunc(func(o *singletonOptions) { o.hook = h })
}

// Singleton wraps spec so that its child runs on at most one node of the
// cluster at a time: the node that leads the singleton's name in e.
//
// The returned spec keeps spec's ID and Restart. Its service is a candidate:
// it is started at once (never awaited, so its siblings do not wait for
// leadership), campaigns, and runs spec's service on its own goroutine while
// the term lasts, with the term's [Token] in the context ([TokenFrom]). When
// the term is lost it stops the child, releases the lease once the child has
// returned, and campaigns again. When the supervisor stops it, it stops the
// child, waits for it to return, and only then releases the lease (a hand-off:
// the next leader cannot start before). When the child returns by itself the
// lease is released and the exit goes to the supervisor as the singleton's
// own, so the restart type decides what happens next; a child that ends
// normally hands the name over to another node's candidate.
//
// The child's shutdown budget must be shorter than e.Margin(): it is checked
// here, and a budget of [child.Infinity] or [child.BrutalKill] is refused
// (the child is always awaited before the lease is released), unless the
// margin is [child.Infinity] (terms are never lost, as with [Local]). Singleton
// returns an error matching [ErrBudget], [ErrNilElector] or
// [child.ErrInvalidSpec].
func Singleton(spec child.Spec, e Elector, opts ...SingletonOption) (child.Spec, error) {
	if err := spec.Validate(); err != nil {
		return child.Spec{}, err
	}
	if e == nil {
		return child.Spec{}, ErrNilElector
	}
	o := singletonOptions{name: spec.ID}
	for _, opt := range opts {
		opt.apply(&o)
	}
	budget := spec.WithDefaults().Shutdown
	// The singleton's own budget: the child's plus what is left of the
	// margin to release the lease.
	shutdown := e.Margin()
	switch {
	case shutdown == child.Infinity: // terms are never lost
		shutdown = budget
	case budget <= 0 || budget >= shutdown:
		return child.Spec{}, fmt.Errorf("%w: %q has %v, margin %v (set Shutdown below the margin)",
			ErrBudget, spec.ID, budgetString(budget), shutdown)
	}
	return child.Spec{
		ID:          spec.ID,
		Service:     &singleton{name: o.name, svc: spec.Service, e: e, hook: o.hook},
		Restart:     spec.Restart,
		Shutdown:    shutdown,
		Significant: spec.Significant,
	}, nil
}

func budgetString(d time.Duration) string {
	switch d {
	case child.Infinity:
		return "Infinity"
	case child.BrutalKill:
		return "BrutalKill"
	}
	return d.String()
}

// singleton is the candidate service built by Singleton.
type singleton struct {
	name string
	svc  child.Service
	e    Elector
	hook func(Leadership)
}

// Serve campaigns, runs the child while leading, and campaigns again after a
// lost term, until ctx is done or the child returns by itself.
func (s *singleton) Serve(ctx context.Context) error {
	for {
		l, err := s.e.Campaign(ctx, s.name)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while a candidate
			}
			return fmt.Errorf("cluster: campaign for %q: %w", s.name, err)
		}
		lost, err := s.lead(ctx, l)
		if !lost || ctx.Err() != nil {
			return err
		}
	}
}

// lead runs the child for the term l, on the calling goroutine, so that a
// panic reaches the supervisor as the child's own. It returns once the child
// has returned and l has been released, reporting whether the term was lost.
func (s *singleton) lead(ctx context.Context, l Lease) (lost bool, err error) {
	tok := l.Token()
	s.report(ctx, Leadership{Name: s.name, Token: tok, Leading: true})
	cctx, cancel := context.WithCancel(WithToken(ctx, tok))
	var wasLost atomic.Bool
	watched := make(chan struct{})
	// Ends when the term is lost (once it has cancelled the child) or when
	// the child has returned and cancel below has run.
	go func() {
		defer close(watched)
		select {
		case <-l.Lost():
			wasLost.Store(true)
			cancel()
		case <-cctx.Done():
		}
	}()
	defer func() {
		// Step down before promotion: the child has returned (or is
		// panicking through here); only now may the next leader start.
		cancel()
		<-watched
		lost = wasLost.Load()
		if lost {
			// Reported now, not after the release: the lease is lost or
			// about to be, another node may be promoted soon, and releasing
			// through a broken connection can take the engine's whole
			// request timeout. What the release returns changes nothing:
			// the lease ends by itself.
			s.report(ctx, Leadership{Name: s.name, Token: tok, Lost: true})
			_ = l.Release(context.WithoutCancel(ctx))
			return
		}
		rerr := l.Release(context.WithoutCancel(ctx))
		s.report(ctx, Leadership{Name: s.name, Token: tok, Err: rerr})
	}()
	return false, s.svc.Serve(cctx)
}

// report tells the hook, and the supervisor running the singleton, which
// turns it into a leadership event (supervisor.LeadershipAcquired and so on).
func (s *singleton) report(ctx context.Context, l Leadership) {
	if tr, ok := control.From(ctx).(control.TermReporter); ok {
		change := control.TermBegun
		switch {
		case l.Leading:
		case l.Lost:
			change = control.TermLost
		default:
			change = control.TermReleased
		}
		tr.ReportTerm(control.Term{Change: change, Name: l.Name, Key: l.Token.Key, Revision: l.Token.Revision, Err: l.Err})
	}
	if s.hook != nil {
		s.hook(l)
	}
}
