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
	"github.com/arborgo/arbor/httpchild"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Config is what the daemon is built from.
type Config struct {
	Addr      string        // where the API listens, such as "127.0.0.1:8080"
	Workers   int           // worker goroutines
	QueueSize int           // jobs the queue holds
	Budget    time.Duration // the total shutdown budget: the delay, then the phases
	Delay     time.Duration // the shutdown delay: unready but serving (daemon.WithShutdownDelay)
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
	N    int    // 1 to 3, in the order they run
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

// The three shutdown phases, in order. Each is one child's shutdown, so the
// supervisor runs them one after the other, in reverse start order. Before
// them, with a shutdown delay (Config.Delay), readiness turns 503 while
// everything still serves.
var (
	phaseRequests = Phase{N: 1, Name: "stop accepting, finish in-flight requests"}
	phaseDrain    = Phase{N: 2, Name: "drain the worker queue"}
	phaseClose    = Phase{N: 3, Name: "close the resource"}
)

// budgets splits what the shutdown budget leaves after the delay into each
// phase's slice: the children's child.Spec.Shutdown. The supervisor also
// bounds the whole shutdown by the total, so a phase that finishes early
// leaves its time to no one, and one that overruns is abandoned at its own
// limit.
func budgets(total time.Duration) (requests, drain, closing time.Duration) {
	part := func(percent int64) time.Duration { return time.Duration(int64(total) * percent / 100) }
	return part(50), part(35), part(15)
}

// App holds what the children share: the store, the queue and the API.
type App struct {
	cfg   Config
	log   *zap.Logger
	store *Store
	queue *Queue
	api   *httpchild.Service
	crash map[string]chan struct{} // by child ID: a value makes it panic
}

// runUntilStopped returns once ctx is done, or panics if asked to with Crash.
func (a *App) runUntilStopped(ctx context.Context, id string) {
	select {
	case <-ctx.Done():
	case <-a.crash[id]:
		panic(fmt.Sprintf("%s crashed on purpose (POST /debug/crash?child=%s)", id, id))
	}
}

// Crash makes the child id (store or workers) panic, to watch its supervisor
// restart it and, rest_for_one, the children after it.
func (a *App) Crash(id string) error {
	c, ok := a.crash[id]
	if !ok {
		return fmt.Errorf("cannot crash %q: only store and workers can be crashed", id)
	}
	select {
	case c <- struct{}{}:
	default: // a crash is already on its way
	}
	return nil
}

// newTree builds the daemon's tree. Declared order is start order:
//
//	root (rest_for_one)
//	├── store     the database-like resource    shutdown phase 3
//	├── workers   the pool draining the queue   shutdown phase 2
//	└── api       the HTTP server (httpchild)   shutdown phase 1
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
	if cfg.Workers <= 0 || cfg.QueueSize <= 0 || cfg.Budget <= 0 || cfg.Delay < 0 || cfg.Delay >= cfg.Budget {
		return nil, nil, errors.New("workers, queue size and budget must be positive, the delay shorter than the budget")
	}
	a := &App{cfg: cfg, log: cfg.Log, store: newStore(cfg.Workers + 4), queue: newQueue(cfg.QueueSize),
		crash: map[string]chan struct{}{"store": make(chan struct{}, 1), "workers": make(chan struct{}, 1)}}
	// httpchild reports the requests a stop deadline cuts to the server's
	// ErrorLog: a warning.
	errorLog, err := zap.NewStdLogAt(a.log.Named("http"), zap.WarnLevel)
	if err != nil {
		return nil, nil, err
	}
	a.api = httpchild.New(&http.Server{
		Addr:              cfg.Addr,
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          errorLog,
	})
	requests, drain, closing := budgets(cfg.Budget - cfg.Delay)
	opts := []supervisor.Option{
		supervisor.WithStrategy(strategy.RestForOne),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: 30 * time.Second}),
		supervisor.WithLogger(cfg.Log.Named("arbor")),
		supervisor.WithHook(func(ev supervisor.Event) {
			if ev.Kind == supervisor.ChildStarted && ev.Child == "api" {
				if addr := a.Addr(); addr != nil {
					a.log.Info("listening", zap.Stringer("addr", addr))
				}
			}
		}),
	}
	for _, h := range cfg.Hooks {
		opts = append(opts, supervisor.WithHook(h))
	}
	root, err := supervisor.New("daemon", []child.Spec{
		{ID: "store", Service: child.Func(a.serveStore), AwaitReady: true, Shutdown: closing},
		{ID: "workers", Service: child.Func(a.serveWorkers), AwaitReady: true, Shutdown: drain},
		{ID: "api", Service: child.Func(a.serveAPI), AwaitReady: true, Shutdown: requests},
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

// serveStore is the resource: open, then, on stop, close once every
// connection is back (phase 4).
func (a *App) serveStore(ctx context.Context) error {
	a.store.open()
	child.Ready(ctx)
	a.runUntilStopped(ctx, "store")
	a.phase(ctx, phaseClose)
	dctx, cancel := child.DrainContext(ctx)
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
	a.runUntilStopped(ctx, "workers")

	a.phase(ctx, phaseDrain, zap.Int("queued", len(jobs)))
	a.queue.close()
	dctx, cancel := child.DrainContext(ctx)
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

// serveAPI serves the API with httpchild: ready once it accepts
// connections; on stop it closes the listener and finishes the requests in
// flight within its slice (phase 1), and cuts those still running at its
// end, which httpchild reports as a warning with their count.
func (a *App) serveAPI(ctx context.Context) error {
	begun := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(begun)
		a.phase(ctx, phaseRequests)
	})
	err := a.api.Serve(ctx)
	if stop() {
		return err // not asked to stop: the server failed by itself, or could not listen
	}
	<-begun
	p := phaseRequests
	p.Done = true
	if errors.Is(err, httpchild.ErrRequestsCut) {
		a.log.Warn("shutdown phase: the deadline cut requests in flight", zap.Int("phase", p.N), zap.Error(err))
	}
	a.phase(ctx, p)
	return err
}

// Addr returns where the API listens, or nil while it does not.
func (a *App) Addr() net.Addr { return a.api.Addr() }
