// Package soak is arbor's chaos soak: a three-level tree of workers and a
// simple_one_for_one pool, children that fail in every way a child can,
// children and outside callers making every API call, and random stops with
// deadlines, run for as long as asked while invariants are checked, during
// the run and after each round. docs/reliability.md describes the checks,
// the figures of the latest run and how to replay a seed.
//
// A run is seeded: each child's faults, incarnation after incarnation, and
// each caller's sequence of calls are drawn from the seed, so a seed replays
// the workload. Scheduling is the machine's, so two runs of one seed are
// alike, not identical.
package soak

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/registry"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Config sizes a run.
type Config struct {
	Seed     uint64
	Duration time.Duration // the whole run; at least one round
	Round    time.Duration // chaos time of one round, between a fresh start and the final Stop

	L1      int // supervisors under the root
	L2      int // supervisors under each L1 supervisor
	Workers int // workers under each L2 supervisor
	PoolMax int // instances the simple_one_for_one pool may hold
	Callers int // goroutines making API calls from outside the tree

	MeanLife time.Duration // mean time a worker incarnation runs before its injected exit

	// Slack is added to every bound on a call's duration before the call
	// counts as blocked: scheduling on a loaded machine, never a budget.
	Slack time.Duration

	// Strict makes the known core bugs violations too (see suspect).
	Strict bool

	// Logf, if set, receives a line per round.
	Logf func(format string, args ...any)
}

// Full is the configuration of `make soak`: about 1,000 workers and a pool
// of up to 10,000 instances.
func Full(seed uint64, d time.Duration) Config {
	return Config{Seed: seed, Duration: d, Round: time.Minute, L1: 4, L2: 5, Workers: 50, PoolMax: 10000, Callers: 16,
		MeanLife: 3 * time.Second, Slack: 10 * time.Second}
}

// Short is the configuration CI runs under the race detector (which allows
// at most 8,128 live goroutines): a smaller tree, shorter lives.
func Short(seed uint64, d time.Duration) Config {
	return Config{Seed: seed, Duration: d, Round: 12 * time.Second, L1: 3, L2: 3, Workers: 8, PoolMax: 200, Callers: 4,
		MeanLife: 700 * time.Millisecond, Slack: 15 * time.Second}
}

// fault is what one worker incarnation does. The names are those of the
// report.
type fault uint8

const (
	fError            fault = iota // returns an error by itself
	fPanic                         // panics
	fGoexit                        // calls runtime.Goexit
	fNil                           // returns nil by itself
	fShutdown                      // returns an error wrapping child.ErrShutdown
	fOverrun                       // ignores cancellation past its shutdown budget
	fSlowStop                      // takes part of its budget to stop
	fSlowStart                     // takes a while before it reports ready
	fNeverReady                    // never reports ready
	fCrashBeforeReady              // returns an error before it reports ready
	fIgnore                        // declines its start (child.ErrIgnore)
	fHealthy                       // runs until stopped
	nFaults
)

var faultNames = [nFaults]string{"error", "panic", "goexit", "nil", "shutdown", "overrun", "slow_stop", "slow_start", "never_ready", "crash_before_ready", "ignore", "healthy"}

func (f fault) String() string { return faultNames[f] }

// injected is the error a worker's injected exit carries, so that its report
// can be found among the events and checked once.
type injected struct {
	token uint64
	kind  fault
	path  string
}

func (e *injected) Error() string {
	return fmt.Sprintf("soak: injected %s #%d in %s", e.kind, e.token, e.path)
}

// Report is what a run did and found.
type Report struct {
	Seed            uint64
	Rounds          int
	Elapsed         time.Duration
	Workers         int // static workers per round
	PoolPeak        int // most pool instances at once
	Incarnation     int64
	Faults          map[string]int64
	Events          map[string]int64
	Calls           map[string]int64 // by call, "op ok" or "op error"
	Restarts        int64            // ChildExited events with Restarted
	GiveUps         int64
	Stops           int64           // Stop calls with a deadline
	Overruns        []time.Duration // how far past its deadline each Stop returned
	Abandoned       int64           // ChildAbandoned events
	Lookups         int64
	Heap            []uint64         // heap in use after each round, after a GC
	Goroutines      []int            // goroutines after each round
	Unreported      int64            // injected exits not reported, each excused (see docs)
	Unanswered      int64            // root Stops that returned ctx.Err() after StopGrace, the shutdown still going
	Both            map[string]int64 // injected exits both returned by a call and reported by an event
	LostStarts      int64            // start failures of API starts whose caller had given up (see apiStart)
	NamedEarlier    int64            // children the root Stop named that were abandoned before it began
	StopStartErrors int64            // *StartErrors of nested supervisors in the root Stop's result
	KnownBugs       int64            // overlaps of live incarnations under a deadline-cut supervisor (see suspect)
	Violations      []string
}

// Run runs the soak and returns its report; the error, if any, lists the
// violations and names the seed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	s := &soak{cfg: cfg, rep: &Report{Seed: cfg.Seed, Faults: map[string]int64{}, Events: map[string]int64{}, Calls: map[string]int64{}, Both: map[string]int64{}},
		incs: map[string]uint64{}, live: map[string][]*incRecord{}, tokens: map[uint64]*tokenState{}}
	s.liveZero = sync.NewCond(&s.mu)
	start := time.Now()
	baseline := runtime.NumGoroutine()
	for round := 0; round == 0 || time.Since(start)+cfg.Round <= cfg.Duration; round++ {
		if ctx.Err() != nil {
			break
		}
		s.round(ctx, round, baseline)
		s.rep.Rounds++
		if len(s.rep.Violations) > 0 {
			break
		}
	}
	s.rep.Elapsed = time.Since(start)
	if len(s.rep.Violations) > 0 {
		return s.rep, fmt.Errorf("soak seed %d: %d violations:\n%s", cfg.Seed, len(s.rep.Violations), strings.Join(s.rep.Violations, "\n"))
	}
	return s.rep, nil
}

type soak struct {
	cfg Config
	rep *Report
	reg registry.Registry[*incRecord]

	// counters, read into the report
	tokenSeq    atomic.Uint64
	lookupSeq   atomic.Uint64
	incarnation atomic.Int64
	lookups     atomic.Int64
	poolNext    atomic.Int64
	roundN      atomic.Int64
	dumped      atomic.Bool

	mu       sync.Mutex
	liveZero *sync.Cond
	incs     map[string]uint64       // incarnations started, by path, this round
	live     map[string][]*incRecord // running incarnations, by path
	nlive    int
	tokens   map[uint64]*tokenState // injected exits of the round
	cuts     []string               // supervisor paths whose run a deadline cut, this round
	rootRun  uint64
	rootStop chan struct{}   // closed when the root's SupervisorStopped is delivered
	stopping atomic.Bool     // the round's final Stop has been asked for
	lost     map[string]bool // paths with an API start whose result nobody received, this round
	suspects []suspect       // overlaps of live incarnations, judged at the end of the round
	abandons []abandonment   // ChildAbandoned events of the round that are errors (not BrutalKill)
	faults   [nFaults]int64
	nilExits int64
	goexits  int64
	nilSeen  int64
	goexSeen int64
	handles  []supervisor.Handle
}

// suspect is an overlap of two incarnations of one path whose contexts were
// both live. Under a supervisor that a deadline cut, it is the known core bug
// of TestNestedRestartAfterDeadlineCutCancelsOldChildrenFirst (counted, and
// a violation only with Config.Strict); anywhere else it is a violation.
type suspect struct{ path, msg string }

// tokenState follows one injected exit.
type tokenState struct {
	kind     fault
	path     string
	restart  child.Restart
	brutal   bool
	stopping bool   // the round's final Stop had been asked for when it returned
	seen     int    // events that reported it: at most one
	byCall   bool   // a call's error returned it (a failed StartChild, RestartChild, Apply)
	event    string // the kind of the event that reported it
}

// incRecord is one running incarnation, as the children's side sees it; it
// is also the value a worker registers under its path.
type incRecord struct {
	path      string
	ctx       context.Context
	cancelled atomic.Uint64 // lookupSeq when its context was seen done; 0 before
	stop      func() bool
}

func (s *soak) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rep.Violations) < 50 {
		s.rep.Violations = append(s.rep.Violations, msg)
	}
}

// dump writes every goroutine's stack to a file, once per run, and returns
// its name.
func (s *soak) dump() string {
	if !s.dumped.CompareAndSwap(false, true) {
		return "(goroutines dumped already)"
	}
	f, err := os.CreateTemp("", fmt.Sprintf("arbor-soak-%d-*.goroutines", s.cfg.Seed))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	_ = pprof.Lookup("goroutine").WriteTo(f, 2)
	return "goroutines dumped to " + f.Name()
}

func (s *soak) count(m map[string]int64, key string, n int64) {
	s.mu.Lock()
	m[key] += n
	s.mu.Unlock()
}

// mix derives a well-spread stream seed from the run's seed and a key.
func mix(seed uint64, keys ...uint64) uint64 {
	x := seed
	for _, k := range keys {
		x ^= k + 0x9e3779b97f4a7c15 + (x << 6) + (x >> 2)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
	}
	return x
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// ---- the tree

type tree struct {
	root  *supervisor.Supervisor
	sups  []*supervisor.Supervisor // L1 and L2, the ones calls and Stops target
	l2    []*supervisor.Supervisor
	l2cfg map[*supervisor.Supervisor]supervisor.Config
	pool  *supervisor.Simple[int]
	path  map[*supervisor.Supervisor]string
}

func (s *soak) build(rng *rand.Rand) *tree {
	t := &tree{l2cfg: map[*supervisor.Supervisor]supervisor.Config{}, path: map[*supervisor.Supervisor]string{}}
	strategies := []strategy.Strategy{strategy.OneForOne, strategy.OneForAll, strategy.RestForOne}
	hook := supervisor.WithHook(s.hook)
	var rootSpecs []child.Spec
	for i := range s.cfg.L1 {
		var l1Specs []child.Spec
		for j := range s.cfg.L2 {
			var ws []*worker
			var specs []child.Spec
			for k := range s.cfg.Workers {
				w := &worker{s: s}
				ws = append(ws, w)
				restart := []child.Restart{child.Permanent, child.Permanent, child.Transient, child.Temporary}[rng.IntN(4)]
				shutdown := time.Duration(20+rng.IntN(80)) * time.Millisecond
				if rng.IntN(20) == 0 {
					shutdown = child.BrutalKill
				}
				w.restart, w.brutal = restart, shutdown == child.BrutalKill
				specs = append(specs, child.Spec{ID: fmt.Sprintf("w%d", k), Service: w, Restart: restart, Shutdown: shutdown,
					AwaitReady: true, StartTimeout: time.Duration(300+rng.IntN(300)) * time.Millisecond})
			}
			l2, err := supervisor.New(fmt.Sprintf("l2-%d", j), specs, hook,
				supervisor.WithStrategy(strategies[rng.IntN(3)]),
				supervisor.WithIntensity(escalation.Intensity{MaxRestarts: s.cfg.Workers, Period: time.Second}))
			if err != nil {
				panic(err)
			}
			for _, w := range ws {
				w.sup = l2
			}
			t.l2 = append(t.l2, l2)
			t.sups = append(t.sups, l2)
			t.path[l2] = fmt.Sprintf("soak/l1-%d/l2-%d", i, j)
			t.l2cfg[l2] = l2.Config()
			restart := child.Permanent
			if rng.IntN(4) == 0 {
				restart = child.Transient
			}
			l1Specs = append(l1Specs, child.Spec{ID: l2.Name(), Service: l2, Kind: child.KindSupervisor, Restart: restart})
		}
		l1, err := supervisor.New(fmt.Sprintf("l1-%d", i), l1Specs, hook,
			supervisor.WithStrategy(strategies[rng.IntN(3)]),
			supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 3, Period: time.Second}))
		if err != nil {
			panic(err)
		}
		t.sups = append(t.sups, l1)
		t.path[l1] = fmt.Sprintf("soak/l1-%d", i)
		rootSpecs = append(rootSpecs, child.Spec{ID: l1.Name(), Service: l1, Kind: child.KindSupervisor})
	}
	pw := &worker{s: s, restart: child.Transient}
	pool, err := supervisor.NewSimple("pool",
		child.Spec{ID: "inst", Restart: child.Transient, Shutdown: 100 * time.Millisecond, AwaitReady: true, StartTimeout: 300 * time.Millisecond},
		func(ctx context.Context, _ int) error { return pw.Serve(ctx) },
		hook, supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 100000, Period: time.Second}))
	if err != nil {
		panic(err)
	}
	t.pool = pool
	rootSpecs = append(rootSpecs, child.Spec{ID: "pool", Service: pool, Kind: child.KindSupervisor})
	root, err := supervisor.New("soak", rootSpecs, hook,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 1 << 30, Period: time.Second}))
	if err != nil {
		panic(err)
	}
	t.root = root
	t.path[root] = "soak"
	return t
}

// ---- workers

type worker struct {
	s       *soak
	sup     *supervisor.Supervisor // its own supervisor; nil for pool instances
	restart child.Restart
	brutal  bool
}

// plan draws what one incarnation does: how it starts, how it ends by
// itself (if it gets to), how it stops.
func plan(rng *rand.Rand, first bool) (start, run, stop fault) {
	start = fHealthy
	switch r := rng.IntN(100); {
	case r < 5 && !first:
		start = fSlowStart
	case r < 8 && !first:
		start = fNeverReady
	case r < 12 && !first:
		start = fCrashBeforeReady
	case r < 15:
		start = fIgnore
	}
	run = []fault{fError, fError, fPanic, fGoexit, fNil, fShutdown, fHealthy, fHealthy}[rng.IntN(8)]
	stop = fHealthy
	switch r := rng.IntN(100); {
	case r < 8:
		stop = fOverrun
	case r < 20:
		stop = fSlowStop
	}
	return start, run, stop
}

func (w *worker) Serve(ctx context.Context) error {
	s := w.s
	path := child.Path(ctx)
	inc := &incRecord{path: path, ctx: ctx}
	inc.stop = context.AfterFunc(ctx, func() { inc.cancelled.Store(s.lookupSeq.Add(1)) })
	s.mu.Lock()
	s.incs[path]++
	n := s.incs[path]
	// One incarnation at a time: the context of every earlier incarnation
	// still running is cancelled before a new one starts.
	for _, old := range s.live[path] {
		if old.ctx.Err() == nil {
			s.suspects = append(s.suspects, suspect{path, fmt.Sprintf("two incarnations of %s run with live contexts (incarnation %d starting)", path, n)})
		}
	}
	s.live[path] = append(s.live[path], inc)
	s.nlive++
	s.mu.Unlock()
	s.incarnation.Add(1)
	defer func() {
		inc.stop()
		s.mu.Lock()
		s.live[path] = slices.DeleteFunc(s.live[path], func(x *incRecord) bool { return x == inc })
		if len(s.live[path]) == 0 {
			delete(s.live, path)
		}
		s.nlive--
		if s.nlive == 0 {
			s.liveZero.Broadcast()
		}
		s.mu.Unlock()
	}()

	rng := rand.New(rand.NewPCG(mix(s.cfg.Seed, uint64(s.roundN.Load()), hash(path), n), 1))
	start, run, stop := plan(rng, n == 1)
	s.fault(start)
	switch start {
	case fSlowStart:
		if !wait(ctx, time.Duration(rng.IntN(100))*time.Millisecond) {
			return w.stopped(ctx, rng, stop)
		}
	case fNeverReady:
		<-ctx.Done()
		return w.stopped(ctx, rng, stop)
	case fCrashBeforeReady:
		return w.exit(ctx, fCrashBeforeReady)
	case fIgnore:
		return child.ErrIgnore
	}
	if err := s.reg.Register(ctx, path, inc); err != nil && ctx.Err() == nil {
		s.mu.Lock()
		s.suspects = append(s.suspects, suspect{path, fmt.Sprintf("Register(%s) by a new incarnation: %v", path, err)})
		s.mu.Unlock()
		return err
	}
	child.Ready(ctx)
	life := time.NewTimer(time.Duration(rng.ExpFloat64() * float64(s.cfg.MeanLife)))
	defer life.Stop()
	tick := time.NewTicker(time.Duration(50+rng.IntN(250)) * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return w.stopped(ctx, rng, stop)
		case <-life.C:
			if run == fHealthy {
				continue
			}
			if ctx.Err() != nil {
				return w.stopped(ctx, rng, stop)
			}
			return w.exit(ctx, run)
		case <-tick.C:
			w.calls(ctx, rng)
		}
	}
}

func (s *soak) fault(f fault) {
	if f != fHealthy {
		atomic.AddInt64(&s.faults[f], 1)
	}
}

// exit ends the incarnation by itself with f.
func (w *worker) exit(ctx context.Context, f fault) error {
	s := w.s
	s.fault(f)
	switch f {
	case fNil:
		atomic.AddInt64(&s.nilExits, 1)
		return nil
	case fGoexit:
		atomic.AddInt64(&s.goexits, 1)
		runtime.Goexit()
	}
	e := &injected{token: s.tokenSeq.Add(1), kind: f, path: child.Path(ctx)}
	s.mu.Lock()
	s.tokens[e.token] = &tokenState{kind: f, path: e.path, restart: w.restart, brutal: w.brutal, stopping: s.stopping.Load()}
	s.mu.Unlock()
	switch f {
	case fPanic:
		panic(e)
	case fShutdown:
		return fmt.Errorf("%w: %w", child.ErrShutdown, e)
	}
	return e
}

// stopped is the incarnation's answer to the polite stop.
func (w *worker) stopped(ctx context.Context, rng *rand.Rand, f fault) error {
	w.s.fault(f)
	budget := 100 * time.Millisecond
	if by, ok := child.StopDeadline(ctx); ok {
		budget = time.Until(by)
	}
	switch f {
	case fOverrun:
		time.Sleep(max(budget, 0) + time.Duration(10+rng.IntN(300))*time.Millisecond)
	case fSlowStop:
		time.Sleep(time.Duration(rng.Int64N(int64(max(budget/2, time.Millisecond)))))
	}
	return ctx.Err()
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// calls is what a worker asks of its own supervisor and of the registry.
func (w *worker) calls(ctx context.Context, rng *rand.Rand) {
	s := w.s
	if rng.IntN(4) == 0 {
		s.lookup(rng)
	}
	if w.sup == nil || rng.IntN(3) != 0 {
		return
	}
	sup := w.sup
	switch rng.IntN(6) {
	case 0:
		s.call(ctx, "child.Children", time.Second, func(c context.Context) error { _, err := sup.Children(c); return err })
	case 1:
		s.call(ctx, "child.CountChildren", time.Second, func(c context.Context) error { _, err := sup.CountChildren(c); return err })
	case 2:
		s.call(ctx, "child.Info", time.Second, func(c context.Context) error { _, err := sup.Info(c); return err })
	case 3:
		id := fmt.Sprintf("w%d", rng.IntN(s.cfg.Workers))
		s.call(ctx, "child.TerminateChild", time.Second, func(c context.Context) error { return sup.TerminateChild(c, id) })
	case 4:
		id := fmt.Sprintf("w%d", rng.IntN(s.cfg.Workers))
		s.apiStart(path.Dir(child.Path(ctx))+"/"+id, s.call(ctx, "child.RestartChild", time.Second, func(c context.Context) error { return sup.RestartChild(c, id) }))
	case 5:
		spec := child.Spec{ID: fmt.Sprintf("dyn%d", rng.IntN(3)), Service: &worker{s: s, sup: sup, restart: child.Temporary},
			Restart: child.Temporary, Shutdown: 50 * time.Millisecond, AwaitReady: true, StartTimeout: 200 * time.Millisecond}
		s.apiStart(path.Dir(child.Path(ctx))+"/"+spec.ID, s.call(ctx, "child.StartChild", time.Second, func(c context.Context) error { return sup.StartChild(c, spec) }))
	}
}

// lookup checks the registry's rule: no lookup returns an incarnation whose
// context was done before the lookup began.
func (s *soak) lookup(rng *rand.Rand) {
	s.lookups.Add(1)
	names := s.reg.Names()
	if len(names) == 0 {
		return
	}
	name := names[rng.IntN(len(names))]
	begin := s.lookupSeq.Add(1)
	if v, ok := s.reg.Lookup(name); ok {
		if c := v.cancelled.Load(); c != 0 && c < begin {
			s.violation("registry: Lookup(%s) returned an incarnation whose context was done before the lookup", name)
		}
	}
}

// known are the errors a call may return under chaos.
var known = []error{
	context.DeadlineExceeded, context.Canceled,
	supervisor.ErrNotRunning, supervisor.ErrStopping, supervisor.ErrNotFound, supervisor.ErrRunning,
	supervisor.ErrRestarting, supervisor.ErrAlreadyStarted, supervisor.ErrAlreadyPresent,
	supervisor.ErrStartFailed, supervisor.ErrStopTimeout, supervisor.ErrBusyWithCaller,
	escalation.ErrExceeded,
}

// call makes one API call bounded by timeout and checks that it returns
// within it (plus the slack) and with a known error.
func (s *soak) call(parent context.Context, op string, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), timeout)
	defer cancel()
	watchdog := time.AfterFunc(timeout+supervisor.StopGrace+s.cfg.Slack, func() {
		s.violation("%s blocked past its timeout %v (+%v +%v slack): %s", op, timeout, supervisor.StopGrace, s.cfg.Slack, s.dump())
	})
	err := f(ctx)
	watchdog.Stop()
	s.reportedBy(op, err)
	if err == nil {
		s.count(s.rep.Calls, op+" ok", 1)
		return nil
	}
	s.count(s.rep.Calls, op+" error", 1)
	for _, k := range known {
		if errors.Is(err, k) {
			return err
		}
	}
	s.violation("%s returned an error of no known kind: %v", op, err)
	return err
}

// reportedBy marks the injected exits that a call's error returns: a
// StartChild, RestartChild or Apply whose start failed returns the child's
// reason, besides or instead of an event.
func (s *soak) reportedBy(op string, err error) {
	for _, e := range unjoin(err) {
		var in *injected
		if !errors.As(e, &in) {
			continue
		}
		s.mu.Lock()
		if ts := s.tokens[in.token]; ts != nil {
			ts.byCall = true
			if ts.seen > 0 {
				s.rep.Both[op+" and "+ts.event]++
			}
		}
		s.mu.Unlock()
	}
}

// apiStart notes a StartChild or RestartChild of path whose caller gave up
// (its ctx ended) or that a stop overtook: a start failure is returned only
// to the call, and supervisors report no event for it, so it reaches nobody.
func (s *soak) apiStart(path string, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, supervisor.ErrStopping) {
		s.mu.Lock()
		s.lost[path] = true
		s.mu.Unlock()
	}
}

// ---- events

func (s *soak) hook(ev supervisor.Event) {
	s.count(s.rep.Events, ev.Kind.String(), 1)
	switch ev.Kind {
	case supervisor.ChildExited:
		if ev.Restarted {
			atomic.AddInt64(&s.rep.Restarts, 1)
		}
		s.exitSeen(ev, ev.Err)
		switch {
		case isSupervisor(ev.Child):
		case ev.Err == nil:
			atomic.AddInt64(&s.nilSeen, 1)
		case errors.Is(ev.Err, child.ErrGoexit):
			atomic.AddInt64(&s.goexSeen, 1)
		}
	case supervisor.ChildStopped, supervisor.AbandonedReturned:
		s.exitSeen(ev, ev.Returned)
	case supervisor.ChildStartFailed:
		s.exitSeen(ev, ev.Err)
	case supervisor.IntensityExceeded:
		atomic.AddInt64(&s.rep.GiveUps, 1)
	case supervisor.ChildAbandoned:
		atomic.AddInt64(&s.rep.Abandoned, 1)
		var st *supervisor.StopTimeoutError
		if errors.As(ev.Err, &st) && st.Deadline {
			s.mu.Lock()
			s.cuts = append(s.cuts, ev.Supervisor, ev.Supervisor+"/"+ev.Child)
			s.mu.Unlock()
		}
		if ev.Err != nil {
			s.mu.Lock()
			s.abandons = append(s.abandons, abandonment{sup: ev.Supervisor, child: ev.Child, run: ev.Run, at: ev.Time, deadline: st != nil && st.Deadline})
			s.mu.Unlock()
		}
	case supervisor.SupervisorStopped:
		if ev.Supervisor == "soak" {
			s.mu.Lock()
			if ev.Run == s.rootRun && s.rootStop != nil {
				close(s.rootStop)
				s.rootStop = nil
			}
			s.mu.Unlock()
		}
	}
}

// exitSeen checks the report of an injected exit: once, and classified as
// the child did it.
func (s *soak) exitSeen(ev supervisor.Event, err error) {
	var in *injected
	if !errors.As(err, &in) || in.path != ev.Supervisor+"/"+ev.Child {
		return // not an injected exit, or a supervisor's error wrapping one
	}
	s.mu.Lock()
	ts := s.tokens[in.token]
	if ts != nil {
		ts.seen++
		ts.event = ev.Kind.String()
		if ts.byCall {
			s.rep.Both["a call and "+ts.event]++
		}
	}
	s.mu.Unlock()
	if ts == nil {
		return // from an earlier round's abandoned incarnation
	}
	if ts.seen > 1 {
		s.violation("injected exit %v reported more than once (again as %s)", in, ev.Kind)
	}
	if ev.Kind != supervisor.ChildExited {
		return
	}
	normal := child.IsNormal(ev.Err)
	switch in.kind {
	case fPanic:
		if normal || !child.IsPanic(ev.Err) {
			s.violation("injected panic %v reported as %v (normal %v)", in, ev.Err, normal)
		}
	case fShutdown:
		if !normal {
			s.violation("injected shutdown %v reported abnormal: %v", in, ev.Err)
		}
	case fError:
		if normal || child.IsPanic(ev.Err) {
			s.violation("injected error %v reported as %v (normal %v)", in, ev.Err, normal)
		}
	}
	if ev.Restarted && !ts.restart.ShouldRestart(normal) {
		s.violation("exit %v of a %s child reported as restarted", in, ts.restart)
	}
}

// ---- rounds

func (s *soak) round(ctx context.Context, round int, baseline int) {
	rng := rand.New(rand.NewPCG(mix(s.cfg.Seed, uint64(round)), 0))
	s.roundN.Store(int64(round))
	s.mu.Lock()
	s.tokens = map[uint64]*tokenState{}
	s.cuts = nil
	s.abandons = nil
	s.suspects = nil
	s.incs = map[string]uint64{}
	s.lost = map[string]bool{}
	s.handles = nil
	s.rootStop = make(chan struct{})
	s.mu.Unlock()
	s.stopping.Store(false)
	t := s.build(rng)
	s.rep.Workers = s.cfg.L1 * s.cfg.L2 * s.cfg.Workers

	startCtx, cancelStart := context.WithTimeout(ctx, time.Minute)
	err := t.root.Start(startCtx)
	cancelStart()
	if err != nil {
		s.violation("round %d: the tree did not start: %v", round, err)
		_ = t.root.Stop(context.Background())
		return
	}
	if info, err := t.root.Info(ctx); err == nil {
		s.mu.Lock()
		s.rootRun = info.Run
		s.mu.Unlock()
	}

	chaos, stopChaos := context.WithTimeout(ctx, s.cfg.Round)
	var wg sync.WaitGroup
	for i := range s.cfg.Callers {
		wg.Go(func() { s.caller(chaos, t, rand.New(rand.NewPCG(mix(s.cfg.Seed, uint64(round), uint64(i+1)), 2))) })
	}
	wg.Wait()
	stopChaos()

	// The round's final Stop, with a random deadline.
	s.stopping.Store(true)
	deadline := time.Duration(50+rng.IntN(950)) * time.Millisecond
	sctx, cancel := context.WithTimeout(context.Background(), deadline)
	begin := time.Now()
	err = s.stopChecked(sctx, "root.Stop", t.root.Stop, deadline)
	cancel()
	elapsed := time.Since(begin)
	s.mu.Lock()
	done := s.rootStop
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(s.cfg.Slack):
			s.violation("round %d: the root's SupervisorStopped was not delivered: %s", round, s.dump())
		}
	}
	s.checkStopResult(round, err, begin, elapsed, deadline)

	// Every incarnation returns, then nothing of the tree is left.
	s.drain(round, baseline)
	s.tally(round)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s.mu.Lock()
	s.rep.Heap = append(s.rep.Heap, ms.HeapInuse)
	s.rep.Goroutines = append(s.rep.Goroutines, runtime.NumGoroutine())
	s.mu.Unlock()
	if s.cfg.Logf != nil {
		s.cfg.Logf("round %d: stop deadline %v, returned after %v; heap %d KiB, %d goroutines, %d incarnations so far",
			round, deadline, elapsed.Round(time.Millisecond), ms.HeapInuse>>10, runtime.NumGoroutine(), s.incarnation.Load())
	}
}

// abandonment is a ChildAbandoned event.
type abandonment struct {
	sup, child string
	run        uint64
	at         time.Time
	deadline   bool
}

// checkStopResult checks what the root's Stop returned against the
// abandonments the tree reported: every child it names was abandoned during
// the shutdown; every child of the root its deadline cut is named; so is
// every child a deadline cut below it, unless a supervisor on the way up was
// abandoned itself (its result, which would carry the error up, is lost).
func (s *soak) checkStopResult(round int, err error, begin time.Time, elapsed, deadline time.Duration) {
	s.mu.Lock()
	abandons := slices.Clone(s.abandons)
	rootRun := s.rootRun
	s.mu.Unlock()
	during := map[string]abandonment{}
	earlier := map[string]abandonment{}
	cutSups := map[string]bool{}
	for _, a := range abandons {
		if a.at.Before(begin) {
			earlier[a.sup+"/"+a.child] = a
			continue
		}
		during[a.sup+"/"+a.child] = a
		if isSupervisor(a.child) {
			cutSups[a.sup+"/"+a.child] = true
		}
	}
	var st *supervisor.StopTimeoutError
	if errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &st) {
		// The supervisor did not answer within StopGrace (cutting a large
		// tree takes a goroutine profile): Stop returned ctx.Err() while
		// the shutdown went on, and names nothing. Counted, not checked.
		atomic.AddInt64(&s.rep.Unanswered, 1)
		return
	}
	named := map[string]bool{}
	for _, e := range unjoin(err) {
		var st *supervisor.StopTimeoutError
		if !errors.As(e, &st) {
			var se *supervisor.StartError
			if errors.As(e, &se) && !s.cfg.Strict {
				// A nested supervisor whose start failed, and whose
				// cleanup then abandoned a child, returns both errors;
				// its stopping parent passes them on whole, so Stop's
				// result holds a *StartError. Counted (see docs).
				atomic.AddInt64(&s.rep.StopStartErrors, 1)
				continue
			}
			if !errors.Is(e, context.DeadlineExceeded) || elapsed < deadline+supervisor.StopGrace {
				s.violation("round %d: root Stop returned %v", round, e)
			}
			continue
		}
		path := st.Supervisor + "/" + st.Child
		named[path] = true
		a, ok := during[path]
		if !ok {
			// Abandoned by a stop under way before the root's: a nested
			// supervisor's earlier Stop whose Serve returned only during
			// the root's shutdown, its result passed up.
			a, ok = earlier[path]
			if ok {
				atomic.AddInt64(&s.rep.NamedEarlier, 1)
			}
		}
		switch {
		case !ok:
			s.violation("round %d: root Stop names %s, which no ChildAbandoned event of the round reported", round, path)
		case a.deadline != st.Deadline || st.Deadline != errors.Is(e, context.DeadlineExceeded):
			s.violation("round %d: root Stop's error for %s has Deadline %v, its event %v", round, path, st.Deadline, a.deadline)
		}
	}
	for path, a := range during {
		if named[path] {
			continue
		}
		mustName := a.sup == "soak" && a.run == rootRun
		if a.deadline && !mustName {
			mustName = true
			for p := a.sup; p != "soak"; p = p[:strings.LastIndexByte(p, '/')] {
				if cutSups[p] {
					mustName = false
					break
				}
			}
		}
		if mustName {
			s.violation("round %d: root Stop does not name %s, which its deadline cut", round, path)
		}
	}
}

// stopChecked calls a Stop with a deadline and checks that it returns
// within it plus StopGrace (plus the slack).
func (s *soak) stopChecked(ctx context.Context, op string, stop func(context.Context) error, deadline time.Duration) error {
	atomic.AddInt64(&s.rep.Stops, 1)
	begin := time.Now()
	watchdog := time.AfterFunc(deadline+supervisor.StopGrace+s.cfg.Slack, func() {
		s.violation("%s did not return within its deadline %v + StopGrace + %v: %s", op, deadline, s.cfg.Slack, s.dump())
	})
	err := stop(ctx)
	watchdog.Stop()
	over := time.Since(begin) - deadline
	s.mu.Lock()
	s.rep.Overruns = append(s.rep.Overruns, over)
	s.mu.Unlock()
	s.count(s.rep.Calls, op, 1)
	return err
}

// drain waits for every incarnation of the round to return, then for the
// tree's goroutines and the hooks' to end.
func (s *soak) drain(round, baseline int) {
	timeout := time.AfterFunc(30*time.Second+s.cfg.Slack, func() {
		s.mu.Lock()
		var paths []string
		for p := range s.live {
			paths = append(paths, p)
		}
		s.mu.Unlock()
		s.violation("round %d: incarnations still running 30 s after the stop: %v: %s", round, paths, s.dump())
		s.mu.Lock()
		s.nlive = 0
		s.liveZero.Broadcast()
		s.mu.Unlock()
	})
	s.mu.Lock()
	for s.nlive > 0 {
		s.liveZero.Wait()
	}
	s.mu.Unlock()
	timeout.Stop()
	// A returned child's goroutine, and the hooks' goroutines, end right
	// after; goleak waits the same way.
	end := time.Now().Add(10*time.Second + s.cfg.Slack)
	for {
		left := supervisor.GoroutinesUnder("soak")
		n := runtime.NumGoroutine()
		if len(left) == 0 && n <= baseline {
			return
		}
		if time.Now().After(end) {
			s.violation("round %d: after the last incarnation returned, %d goroutines (baseline %d), under the tree %d paths: %s",
				round, n, baseline, len(left), s.dump())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tally checks the round's injected exits: each reported at most once (the
// hook checked), and every one reported unless excused.
func (s *soak) tally(round int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.faults {
		s.rep.Faults[fault(k).String()] = n
	}
	s.rep.Incarnation = s.incarnation.Load()
	s.rep.Lookups = s.lookups.Load()
	var missing []string
	for tok, ts := range s.tokens {
		if ts.seen > 0 || ts.byCall {
			continue
		}
		// Excused: an exit whose report raced with a deadline cutting its
		// supervisor (the run that would report it was over), with a
		// BrutalKill stop, or with the round's final Stop.
		excused := ts.brutal || ts.stopping || s.underCut(ts.path)
		if !excused && ts.kind == fCrashBeforeReady && s.lost[ts.path] {
			s.rep.LostStarts++
			continue
		}
		if excused {
			s.rep.Unreported++
			continue
		}
		missing = append(missing, fmt.Sprintf("#%d %s %s", tok, ts.kind, ts.path))
	}
	for _, sp := range s.suspects {
		if s.underCut(sp.path) && !s.cfg.Strict {
			s.rep.KnownBugs++
			continue
		}
		s.rep.Violations = append(s.rep.Violations, fmt.Sprintf("round %d: %s", round, sp.msg))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		s.rep.Violations = append(s.rep.Violations, fmt.Sprintf("round %d: %d injected exits never reported: %v", round, len(missing), missing[:min(len(missing), 10)]))
	}
	if s.nilSeen > s.nilExits {
		s.rep.Violations = append(s.rep.Violations, fmt.Sprintf("%d exits reported as nil, %d injected", s.nilSeen, s.nilExits))
	}
	if s.goexSeen > s.goexits {
		s.rep.Violations = append(s.rep.Violations, fmt.Sprintf("%d exits reported as Goexit, %d injected", s.goexSeen, s.goexits))
	}
}

// underCut reports whether path is a supervisor a deadline cut this round,
// or lies below one. s.mu is held.
func (s *soak) underCut(path string) bool {
	for _, c := range s.cuts {
		if path == c || strings.HasPrefix(path, c+"/") {
			return true
		}
	}
	return false
}

// isSupervisor tells the tree's supervisors from its workers by their IDs.
func isSupervisor(id string) bool {
	return strings.HasPrefix(id, "l1-") || strings.HasPrefix(id, "l2-") || id == "pool"
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
