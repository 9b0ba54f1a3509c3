package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// caller makes API calls on the tree from outside it until ctx ends: every
// call of Supervisor and Simple, the registry's, and now and then a Stop
// with a deadline of a nested supervisor.
func (s *soak) caller(ctx context.Context, t *tree, rng *rand.Rand) {
	for ctx.Err() == nil {
		s.callOnce(ctx, t, rng)
		if !wait(ctx, time.Duration(rng.IntN(20))*time.Millisecond) {
			return
		}
	}
}

func (s *soak) callOnce(ctx context.Context, t *tree, rng *rand.Rand) {
	sup := t.sups[rng.IntN(len(t.sups))]
	if rng.IntN(10) == 0 {
		sup = t.root
	}
	timeout := time.Duration(200+rng.IntN(1800)) * time.Millisecond
	id := fmt.Sprintf("w%d", rng.IntN(s.cfg.Workers))
	if sup.Name()[:2] == "l1" || sup == t.root {
		id = fmt.Sprintf("l2-%d", rng.IntN(s.cfg.L2))
	}
	switch op := rng.IntN(100); {
	case op < 10:
		s.call(ctx, "Children", timeout, func(c context.Context) error { _, err := sup.Children(c); return err })
	case op < 15:
		s.call(ctx, "CountChildren", timeout, func(c context.Context) error { _, err := sup.CountChildren(c); return err })
	case op < 20:
		s.call(ctx, "Info", timeout, func(c context.Context) error { _, err := sup.Info(c); return err })
	case op < 23:
		s.call(ctx, "Tree", timeout, func(c context.Context) error { _, err := t.root.Tree(c); return err })
	case op < 28:
		s.call(ctx, "ChildSpec", timeout, func(c context.Context) error { _, err := sup.ChildSpec(c, id); return err })
	case op < 38:
		s.call(ctx, "TerminateChild", timeout, func(c context.Context) error { return sup.TerminateChild(c, id) })
	case op < 50:
		s.apiStart(t.path[sup]+"/"+id, s.call(ctx, "RestartChild", timeout, func(c context.Context) error { return sup.RestartChild(c, id) }))
	case op < 53:
		s.call(ctx, "DeleteChild", timeout, func(c context.Context) error { return sup.DeleteChild(c, id) })
	case op < 58:
		l2 := t.l2[rng.IntN(len(t.l2))]
		spec := child.Spec{ID: fmt.Sprintf("dyn%d", rng.IntN(3)), Service: &worker{s: s, sup: l2, restart: child.Transient},
			Restart: child.Transient, Shutdown: 50 * time.Millisecond, AwaitReady: true, StartTimeout: 200 * time.Millisecond}
		s.apiStart(t.path[l2]+"/"+spec.ID, s.call(ctx, "StartChild", timeout, func(c context.Context) error { return l2.StartChild(c, spec) }))
	case op < 62:
		s.apply(ctx, t, rng, timeout)
	case op < 80:
		s.poolCall(ctx, t, rng, timeout)
	case op < 88:
		s.lookup(rng)
		names := s.reg.Names()
		if len(names) > 0 {
			name := names[rng.IntN(len(names))]
			s.call(ctx, "registry.Wait", timeout, func(c context.Context) error { _, err := s.reg.Wait(c, name); return err })
		}
	case op < 89:
		// A random Stop with a deadline of a nested supervisor: its parent
		// sees it end and restarts it (or not, if transient).
		victim := t.sups[rng.IntN(len(t.sups))]
		deadline := time.Duration(20+rng.IntN(300)) * time.Millisecond
		sctx, cancel := context.WithTimeout(context.Background(), deadline)
		_ = s.stopChecked(sctx, "nested.Stop", victim.Stop, deadline)
		cancel()
	default:
		s.lookup(rng)
	}
}

// apply reconfigures an L2 supervisor: a random strategy and intensity, and
// its original children less one, or all of them.
func (s *soak) apply(ctx context.Context, t *tree, rng *rand.Rand, timeout time.Duration) {
	if rng.IntN(4) == 0 {
		cfg := t.pool.Config()
		cfg.Intensity = escalation.Intensity{MaxRestarts: 1000 + rng.IntN(100000), Period: time.Second}
		cfg.Children[0].Shutdown = time.Duration(50+rng.IntN(100)) * time.Millisecond
		s.call(ctx, "Simple.Apply", timeout, func(c context.Context) error { _, err := t.pool.Apply(c, cfg); return err })
		return
	}
	l2 := t.l2[rng.IntN(len(t.l2))]
	orig := t.l2cfg[l2]
	cfg := supervisor.Config{Flags: orig.Flags}
	cfg.Strategy = []strategy.Strategy{strategy.OneForOne, strategy.OneForAll, strategy.RestForOne}[rng.IntN(3)]
	cfg.Intensity.MaxRestarts = s.cfg.Workers/2 + rng.IntN(s.cfg.Workers+1)
	drop := rng.IntN(len(orig.Children) + 1)
	for i, sp := range orig.Children {
		if i != drop {
			cfg.Children = append(cfg.Children, sp)
		}
	}
	err := s.call(ctx, "Apply", timeout, func(c context.Context) error {
		ch, err := l2.Apply(c, cfg)
		return errors.Join(append([]error{err}, ch.Failed...)...) // the start errors report injected exits too
	})
	for _, sp := range cfg.Children {
		s.apiStart(t.path[l2]+"/"+sp.ID, err) // a start failure of an Apply whose caller gave up reaches nobody
	}
}

// poolCall starts or terminates instances of the pool.
func (s *soak) poolCall(ctx context.Context, t *tree, rng *rand.Rand, timeout time.Duration) {
	pool := t.pool
	s.mu.Lock()
	n := len(s.handles)
	s.mu.Unlock()
	if n > 0 && (rng.IntN(3) == 0 || n >= s.cfg.PoolMax) {
		s.mu.Lock()
		i := rng.IntN(len(s.handles))
		h := s.handles[i]
		s.handles[i] = s.handles[len(s.handles)-1]
		s.handles = s.handles[:len(s.handles)-1]
		s.mu.Unlock()
		s.call(ctx, "Simple.TerminateChild", timeout, func(c context.Context) error { return pool.TerminateChild(c, h) })
		return
	}
	// Start a burst of instances.
	for range 1 + rng.IntN(20) {
		var h supervisor.Handle
		err := s.call(ctx, "Simple.StartChild", timeout, func(c context.Context) error {
			var err error
			h, err = pool.StartChild(c, int(s.poolNext.Add(1)))
			return err
		})
		if err == nil && !h.IsZero() {
			s.mu.Lock()
			s.handles = append(s.handles, h)
			if len(s.handles) > s.rep.PoolPeak {
				s.rep.PoolPeak = len(s.handles)
			}
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}
