// Package agent is the daemon behind arbor run: it builds a supervision tree
// of OS processes from a tree file, reloads it, and serves the control API
// and the admin endpoints.
package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/prom"
	"github.com/arborgo/arbor/supervisor"
)

// Agent owns one tree built from a tree file.
type Agent struct {
	path      string // the tree file, read again by Reload
	reaper    *proc.Reaper
	log       *zap.Logger
	collector *prom.Collector
	started   time.Time

	events   broadcaster
	reloadMu sync.Mutex // serialises reloads
	node     string     // the node's name, in the locations of names
	clusterState

	mu    sync.Mutex
	file  *treefile.File                    // guarded by mu; the file last applied
	root  *supervisor.Supervisor            // set once by New
	sups  map[string]*supervisor.Supervisor // guarded by mu; by path
	procs map[string]*proc.Process          // guarded by mu; by path
	// built holds each process's spec as built, wrappers included, so
	// that a reload that keeps the process keeps the very same service.
	built map[string]child.Spec // guarded by mu; by path
}

// New builds the tree that f declares; path is where Reload reads it again.
func New(f *treefile.File, path string, r *proc.Reaper, log *zap.Logger, opts ...Option) (*Agent, error) {
	if log == nil {
		log = zap.NewNop()
	}
	a := &Agent{path: path, reaper: r, log: log, collector: prom.NewCollector(), started: time.Now(),
		file: f, node: f.NodeName(), sups: map[string]*supervisor.Supervisor{}, procs: map[string]*proc.Process{},
		built: map[string]child.Spec{}}
	for _, o := range opts {
		o(a)
	}
	if err := a.checkCluster(f); err != nil {
		return nil, err
	}
	root, err := a.build(context.Background(), f.Root, nil)
	if err != nil {
		return nil, err
	}
	a.root = root
	a.collector.Watch(root)
	return a, nil
}

// Root returns the root supervisor.
func (a *Agent) Root() *supervisor.Supervisor { return a.root }

// Collector returns the Prometheus collector of the tree.
func (a *Agent) Collector() *prom.Collector { return a.collector }

// File returns the tree file last applied.
func (a *Agent) File() *treefile.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.file
}

// KillAll sends SIGKILL to every process group: the forced shutdown.
func (a *Agent) KillAll() {
	a.mu.Lock()
	procs := make([]*proc.Process, 0, len(a.procs))
	for _, p := range a.procs {
		procs = append(procs, p)
	}
	a.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
}

func (a *Agent) options(s *treefile.Supervisor) []supervisor.Option {
	opts := []supervisor.Option{
		supervisor.WithStrategy(s.Strategy),
		supervisor.WithIntensity(s.Intensity),
		supervisor.WithLogger(a.log),
		supervisor.WithHook(a.collector.Hook()),
		supervisor.WithHook(a.crashReport),
		supervisor.WithHook(a.events.hook),
	}
	if b := s.Backoff; b != nil {
		opts = append(opts, supervisor.WithBackoff(func() supervisor.BackOff {
			eb := backoff.NewExponentialBackOff()
			eb.InitialInterval, eb.MaxInterval = b.Initial, b.Max
			eb.Multiplier, eb.RandomizationFactor = b.Multiplier, b.Jitter
			eb.MaxElapsedTime = 0 // never give up: intensity decides that
			eb.Reset()
			return eb
		}))
	}
	return opts
}

// build makes the supervisor s declares, reusing from old (by path) the
// processes whose declaration is unchanged and the nested supervisors that
// still exist, and records every node in a.sups and a.procs.
func (a *Agent) build(ctx context.Context, s *treefile.Supervisor, old *index) (*supervisor.Supervisor, error) {
	specs, err := a.specs(ctx, s, old)
	if err != nil {
		return nil, err
	}
	sup, err := supervisor.New(s.Name, specs, a.options(s)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	a.mu.Lock()
	a.sups[s.Path] = sup
	a.mu.Unlock()
	return sup, nil
}

func (a *Agent) specs(ctx context.Context, s *treefile.Supervisor, old *index) ([]child.Spec, error) {
	var specs []child.Spec
	for _, n := range s.Children {
		switch n := n.(type) {
		case *treefile.Process:
			p := old.process(n)
			spec, kept := old.spec(n.Path)
			if p == nil || !kept {
				p = proc.New(n.Path, n.Config, a.reaper, a.log.Named("proc"))
				var err error
				if spec, err = a.wrap(n, p, p.Spec(n.Name, n.Restart)); err != nil {
					return nil, err
				}
			}
			a.mu.Lock()
			a.procs[n.Path] = p
			a.built[n.Path] = spec
			a.mu.Unlock()
			specs = append(specs, spec)
		case *treefile.Supervisor:
			var sup *supervisor.Supervisor
			if prev := old.supervisor(n); prev != nil {
				// Kept: its own children and flags are applied below it first.
				if _, err := a.apply(ctx, prev, n, old); err != nil {
					return nil, err
				}
				sup = prev
				a.mu.Lock()
				a.sups[n.Path] = sup
				a.mu.Unlock()
			} else {
				var err error
				if sup, err = a.build(ctx, n, old); err != nil {
					return nil, err
				}
			}
			specs = append(specs, child.Spec{ID: n.Name, Service: sup, Kind: child.KindSupervisor,
				Restart: n.Restart, Shutdown: n.Shutdown})
		}
	}
	return specs, nil
}

// crashReport logs the last stderr lines of a process that crashed: the
// supervisor's own report has the exit, this one what the process said.
func (a *Agent) crashReport(ev supervisor.Event) {
	if ev.Kind != supervisor.ChildExited && ev.Kind != supervisor.ChildStartFailed {
		return
	}
	var ee *proc.ExitError
	if !errors.As(ev.Err, &ee) {
		return
	}
	a.log.Error("process crashed", zap.String("child", ev.Supervisor+"/"+ev.Child), zap.Int("pid", ee.PID),
		zap.String("reason", ee.Error()), zap.Bool("restarted", ev.Restarted), zap.Strings("stderr", ee.Stderr))
}

// index finds the running objects of the previous tree by path.
type index struct {
	file  *treefile.File
	sups  map[string]*supervisor.Supervisor
	procs map[string]*proc.Process
	built map[string]child.Spec
	decls map[string]treefile.Node
}

func (x *index) process(n *treefile.Process) *proc.Process {
	if x == nil {
		return nil
	}
	p := x.procs[n.Path]
	if p == nil || !same(x.decls[n.Path], n) {
		return nil
	}
	return p
}

// spec returns the spec built for the process at path, wrappers included.
func (x *index) spec(path string) (child.Spec, bool) {
	if x == nil {
		return child.Spec{}, false
	}
	s, ok := x.built[path]
	return s, ok
}

func (x *index) supervisor(n *treefile.Supervisor) *supervisor.Supervisor {
	if x == nil {
		return nil
	}
	old, ok := x.decls[n.Path].(*treefile.Supervisor)
	if !ok || !sameBackoff(old.Backoff, n.Backoff) {
		return nil // a new backoff needs a new supervisor
	}
	return x.sups[n.Path]
}

func sameBackoff(a, b *treefile.Backoff) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// apply gives the running supervisor sup the declaration s.
func (a *Agent) apply(ctx context.Context, sup *supervisor.Supervisor, s *treefile.Supervisor, old *index) (supervisor.Changes, error) {
	specs, err := a.specs(ctx, s, old)
	if err != nil {
		return supervisor.Changes{}, err
	}
	cfg := sup.Config()
	cfg.Strategy, cfg.Intensity, cfg.Children = s.Strategy, s.Intensity, specs
	ch, err := sup.Apply(ctx, cfg)
	if err != nil {
		return ch, fmt.Errorf("%s: %w", s.Path, err)
	}
	return ch, nil
}

// Plan is what a reload changes, by path.
type Plan struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
	// Warnings are settings a reload cannot apply.
	Warnings []string `json:"warnings,omitempty"`
	Applied  bool     `json:"applied"`
	// Failed lists the starts that failed while applying.
	Failed []string `json:"failed,omitempty"`
}

// Reload reads the tree file again and, unless dryRun, applies it. A file
// that does not parse, or checks that fail, leave the running tree untouched
// and return the annotated error.
func (a *Agent) Reload(ctx context.Context, dryRun bool) (Plan, error) {
	f, err := treefile.ReadFile(a.path)
	if err != nil {
		return Plan{}, err
	}
	return a.ReloadFile(ctx, f, dryRun)
}

// ReloadFile applies f, as Reload does after reading it.
func (a *Agent) ReloadFile(ctx context.Context, f *treefile.File, dryRun bool) (Plan, error) {
	if err := a.checkCluster(f); err != nil {
		return Plan{}, err
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.mu.Lock()
	cur := a.file
	old := &index{file: cur, sups: a.sups, procs: a.procs, built: a.built, decls: decls(cur)}
	a.mu.Unlock()

	plan := diff(old.decls, decls(f))
	if !sameBackoff(cur.Root.Backoff, f.Root.Backoff) {
		plan.Warnings = append(plan.Warnings, "root.backoff: a change of the root's backoff applies only after arbor restarts")
	}
	if f.ShutdownTimeout != cur.ShutdownTimeout {
		plan.Warnings = append(plan.Warnings, "shutdown_timeout: a change applies only after arbor restarts")
	}
	plan.Warnings = append(plan.Warnings, clusterWarnings(cur.Cluster, f.Cluster)...)
	if dryRun {
		return plan, nil
	}
	a.mu.Lock()
	a.sups, a.procs = map[string]*supervisor.Supervisor{"root": a.root}, map[string]*proc.Process{}
	a.built = map[string]child.Spec{}
	a.mu.Unlock()
	ch, err := a.apply(ctx, a.root, f.Root, old)
	a.mu.Lock()
	a.file = f
	a.mu.Unlock()
	plan.Applied = err == nil
	for _, e := range ch.Failed {
		plan.Failed = append(plan.Failed, e.Error())
	}
	a.log.Info("reloaded", zap.Strings("added", plan.Added), zap.Strings("removed", plan.Removed),
		zap.Strings("changed", plan.Changed), zap.Error(err))
	return plan, err
}

func decls(f *treefile.File) map[string]treefile.Node {
	m := map[string]treefile.Node{}
	treefile.Walk(f.Root, func(n treefile.Node) { m[n.Base().Path] = n })
	return m
}

// diff compares two trees by path.
func diff(old, cur map[string]treefile.Node) Plan {
	p := Plan{Added: []string{}, Removed: []string{}, Changed: []string{}, Unchanged: []string{}}
	for path, n := range cur {
		o, ok := old[path]
		switch {
		case !ok:
			p.Added = append(p.Added, path)
		case same(o, n):
			p.Unchanged = append(p.Unchanged, path)
		default:
			p.Changed = append(p.Changed, path)
		}
	}
	for path := range old {
		if _, ok := cur[path]; !ok {
			p.Removed = append(p.Removed, path)
		}
	}
	for _, l := range [][]string{p.Added, p.Removed, p.Changed, p.Unchanged} {
		slices.Sort(l)
	}
	return p
}

func same(a, b treefile.Node) bool {
	switch a := a.(type) {
	case *treefile.Process:
		b, ok := b.(*treefile.Process)
		return ok && a.Restart == b.Restart && a.Config.Equal(b.Config) && a.Singleton == b.Singleton &&
			(a.Register == nil) == (b.Register == nil) && (a.Register == nil || *a.Register == *b.Register)
	case *treefile.Supervisor:
		b, ok := b.(*treefile.Supervisor)
		return ok && a.Restart == b.Restart && a.Shutdown == b.Shutdown && a.Strategy == b.Strategy &&
			a.Intensity == b.Intensity && sameBackoff(a.Backoff, b.Backoff)
	}
	return false
}
