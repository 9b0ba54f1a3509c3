package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Config is what the daemon is built from.
type Config struct {
	Addr      string        // where the API listens, such as "127.0.0.1:8080"
	Workers   int           // worker goroutines
	QueueSize int           // jobs the queue holds
	Budget    time.Duration // the total shutdown budget, split between the phases
	Log       *zap.Logger   // where the daemon and its tree log; default none
	// Work is what a worker does with a job. Default: write it to the store.
	Work Work
	// OnPhase, if set, is called as each shutdown phase begins and ends.
	OnPhase func(Phase)
	// Hooks receive the tree's supervisor events.
	Hooks []supervisor.Hook
}

// Phase is one step of the ordered shutdown.
type Phase struct {
	N    int    // 1 to 4, in the order they run
	Name string // such as "stop accepting"
	Done bool   // false as it begins, true once it has ended
}

// String returns a line such as "1 stop accepting begin".
func (p Phase) String() string {
	step := "begin"
	if p.Done {
		step = "done"
	}
	return fmt.Sprintf("%d %s %s", p.N, p.Name, step)
}

// The four shutdown phases, in order. Each is one child's shutdown, so the
// supervisor runs them one after the other, in reverse start order.
var (
	phaseAccept   = Phase{N: 1, Name: "stop accepting"}
	phaseInFlight = Phase{N: 2, Name: "finish in-flight requests"}
	phaseDrain    = Phase{N: 3, Name: "drain the worker queue"}
	phaseClose    = Phase{N: 4, Name: "close the resource"}
)

// budgets splits the total shutdown budget into each phase's slice: the
// children's child.Spec.Shutdown. The supervisor also bounds the whole
// shutdown by the total, so a phase that finishes early leaves its time to
// no one, and one that overruns is abandoned at its own limit.
func budgets(total time.Duration) (accept, inFlight, drain, closing time.Duration) {
	part := func(percent int64) time.Duration { return time.Duration(int64(total) * percent / 100) }
	return part(10), part(40), part(35), part(15)
}

// App holds what the children share: the store, the queue and the HTTP
// server of the current incarnation.
type App struct {
	cfg   Config
	log   *zap.Logger
	store *Store
	queue *Queue
	srv   atomic.Pointer[http.Server] // the requests child's server, for the listener child
	addr  atomic.Pointer[net.Addr]    // where the listener is bound; nil while not listening
}

// newTree builds the daemon's tree. Declared order is start order:
//
//	root (rest_for_one)
//	├── store     the database-like resource    shutdown phase 4
//	├── workers   the pool draining the queue   shutdown phase 3
//	├── requests  the HTTP server's requests    shutdown phase 2
//	└── listener  the accepting socket          shutdown phase 1
//
// rest_for_one because each child depends on the ones before it: if the
// store crashes, everything after it restarts too.
func newTree(cfg Config) (*supervisor.Supervisor, *App, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Work == nil {
		cfg.Work = storeJob
	}
	if cfg.Workers <= 0 || cfg.QueueSize <= 0 || cfg.Budget <= 0 {
		return nil, nil, errors.New("workers, queue size and budget must be positive")
	}
	a := &App{cfg: cfg, log: cfg.Log, store: newStore(cfg.Workers + 4), queue: newQueue(cfg.QueueSize)}
	accept, inFlight, drain, closing := budgets(cfg.Budget)
	opts := []supervisor.Option{
		supervisor.WithStrategy(strategy.RestForOne),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: 30 * time.Second}),
		supervisor.WithLogger(cfg.Log.Named("arbor")),
	}
	for _, h := range cfg.Hooks {
		opts = append(opts, supervisor.WithHook(h))
	}
	root, err := supervisor.New("daemon", []child.Spec{
		{ID: "store", Service: child.Func(a.serveStore), AwaitReady: true, Shutdown: closing},
		{ID: "workers", Service: child.Func(a.serveWorkers), AwaitReady: true, Shutdown: drain},
		{ID: "requests", Service: child.Func(a.serveRequests), AwaitReady: true, Shutdown: inFlight},
		{ID: "listener", Service: child.Func(a.serveListener), AwaitReady: true, Shutdown: accept},
	}, opts...)
	return root, a, err
}

// phase reports a shutdown phase as it begins or ends.
func (a *App) phase(ctx context.Context, p Phase, fields ...zap.Field) {
	fields = append([]zap.Field{zap.Int("phase", p.N), zap.String("name", p.Name), zap.Bool("done", p.Done)}, fields...)
	if d, ok := child.StopDeadline(ctx); ok && !p.Done {
		fields = append(fields, zap.Duration("budget", time.Until(d).Round(time.Millisecond)))
	}
	a.log.Info("shutdown phase", fields...)
	if a.cfg.OnPhase != nil {
		a.cfg.OnPhase(p)
	}
}

// drainContext returns a context that ends a little before the child's
// stop deadline, so the child returns within its budget instead of being
// abandoned; without a deadline, it never ends.
func drainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	d, ok := child.StopDeadline(ctx)
	if !ok {
		return context.WithCancel(base)
	}
	margin := min(100*time.Millisecond, time.Until(d)/10)
	return context.WithDeadline(base, d.Add(-margin))
}

// serveStore is the resource: open, then, on stop, close once every
// connection is back (phase 4).
func (a *App) serveStore(ctx context.Context) error {
	a.store.open()
	child.Ready(ctx)
	<-ctx.Done()
	a.phase(ctx, phaseClose)
	dctx, cancel := drainContext(ctx)
	defer cancel()
	inUse := a.store.close(dctx)
	p := phaseClose
	p.Done = true
	a.phase(ctx, p, zap.Int("connections_in_use", inUse))
	return nil
}

// serveWorkers runs the pool: on stop it closes the queue to new jobs and
// lets the workers finish what is queued within its slice (phase 3).
func (a *App) serveWorkers(ctx context.Context) error {
	jobs := a.queue.open()
	// Job contexts end only when the drain runs out of time, not at the stop
	// request: queued work is finished, not abandoned.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var (
		wg        sync.WaitGroup
		processed atomic.Int64
		dropped   atomic.Int64
	)
	for range a.cfg.Workers {
		wg.Add(1)
		// Ends when the queue is closed and empty.
		go func() {
			defer wg.Done()
			for j := range jobs {
				if jobCtx.Err() != nil {
					dropped.Add(1)
					j.done <- fmt.Errorf("job dropped: %w", jobCtx.Err())
					continue
				}
				err := a.cfg.Work(jobCtx, a.store, j)
				processed.Add(1)
				j.done <- err
			}
		}()
	}
	child.Ready(ctx)
	<-ctx.Done()

	a.phase(ctx, phaseDrain, zap.Int("queued", len(jobs)))
	a.queue.close()
	dctx, cancel := drainContext(ctx)
	defer cancel()
	finished := make(chan struct{})
	// Ends once every worker has returned, which the drain deadline bounds.
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-dctx.Done():
		cancelJobs() // out of time: what is left is dropped
		<-finished
	}
	p := phaseDrain
	p.Done = true
	a.phase(ctx, p, zap.Int64("processed", processed.Load()), zap.Int64("dropped", dropped.Load()))
	return nil
}

// serveRequests owns the HTTP server; on stop it waits for the requests in
// flight within its slice (phase 2). The listener child, declared after it,
// has stopped accepting by then.
func (a *App) serveRequests(ctx context.Context) error {
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
	}
	a.srv.Store(srv)
	child.Ready(ctx)
	<-ctx.Done()

	a.phase(ctx, phaseInFlight)
	dctx, cancel := drainContext(ctx)
	defer cancel()
	err := srv.Shutdown(dctx) // closes idle connections, waits for active ones
	if err != nil {
		_ = srv.Close() // out of time: cut what is left
	}
	p := phaseInFlight
	p.Done = true
	a.phase(ctx, p, zap.NamedError("cut", err))
	return nil
}

// serveListener binds the API's address and serves it; on stop it closes
// the socket (phase 1): no new connection is accepted, and connections kept
// alive close after their current request.
func (a *App) serveListener(ctx context.Context) error {
	srv := a.srv.Load()
	if srv == nil {
		return errors.New("no HTTP server: the requests child is not running")
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err // a failed start, reported by the supervisor
	}
	addr := ln.Addr()
	a.addr.Store(&addr)
	defer a.addr.Store(nil)
	served := make(chan error, 1)
	// Ends when ln is closed, below or by the server's Shutdown.
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("listening", zap.Stringer("addr", addr))
	child.Ready(ctx)

	select {
	case err := <-served:
		return fmt.Errorf("serving %v: %w", addr, err) // the socket failed: restart
	case <-ctx.Done():
	}
	a.phase(ctx, phaseAccept)
	srv.SetKeepAlivesEnabled(false)
	_ = ln.Close()
	<-served
	p := phaseAccept
	p.Done = true
	a.phase(ctx, p)
	return nil
}

// Addr returns where the API listens, or nil while it does not.
func (a *App) Addr() net.Addr {
	if p := a.addr.Load(); p != nil {
		return *p
	}
	return nil
}
