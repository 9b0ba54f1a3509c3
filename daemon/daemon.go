package daemon

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
)

// Exit codes returned by [Run] and [ExitCode], for os.Exit.
const (
	// ExitOK: the tree stopped cleanly, within its budget, after a signal, the
	// end of Run's context, or an auto-shutdown of the root.
	ExitOK = 0
	// ExitStartFailed: the tree failed to start (a child failed its start, so
	// Serve returned a *supervisor.StartError), or Run was misused.
	ExitStartFailed = 1
	// ExitGaveUp: the root supervisor gave up after exceeding its restart
	// intensity (its error matches escalation.ErrExceeded, or
	// supervisor.ErrBackoffStop).
	ExitGaveUp = 2
	// ExitForced: a second signal forced the exit, or the shutdown overran its
	// budget and children were abandoned (supervisor.ErrStopTimeout).
	ExitForced = 3
)

// Run serves sup as the root of the process's tree until the process is asked
// to stop, stops it, and returns an exit code for os.Exit:
//
//	func main() {
//		root, err := supervisor.New("root", specs)
//		if err != nil {
//			log.Fatal(err)
//		}
//		os.Exit(daemon.Run(context.Background(), root))
//	}
//
// Run starts the tree and waits. If the start fails, it returns
// [ExitStartFailed]; if the root supervisor gives up, [ExitGaveUp]. The first
// SIGINT or SIGTERM, or the end of ctx, starts the shutdown: the tree stops in
// reverse start order within the total budget ([WithShutdownBudget]), as
// sup.Stop with a context carrying that deadline does, and Run returns
// [ExitOK], or [ExitForced] if a child overran the budget and was abandoned.
// A second signal during the shutdown makes Run log what is still running and
// return [ExitForced] at once. A signal that arrives while the tree is still
// starting interrupts the start; a clean stop then is [ExitOK].
//
// ctx's values reach every child; its end is a stop request like a first
// signal, never a forced one. sup must not be serving already. After a forced
// return the tree may still be running: exit the process.
func Run(ctx context.Context, sup *supervisor.Supervisor, opts ...Option) int {
	o := newOptions(opts)
	log := o.logger.Named("arbor").Named("daemon")
	if sup == nil {
		log.Error("run: nil supervisor", zap.Int("exit_code", ExitStartFailed))
		return ExitStartFailed
	}
	log = log.With(zap.String("supervisor", sup.Name()))
	if o.err != nil {
		log.Error("run: invalid option", zap.Error(o.err), zap.Int("exit_code", ExitStartFailed))
		return ExitStartFailed
	}
	sigs := o.signals
	if sigs == nil {
		c := make(chan os.Signal, 2)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(c)
		sigs = c
	}
	d := &runner{sup: sup, log: log, budget: o.budget, delay: o.delay, sigs: sigs}
	return d.run(ctx)
}

// runner is one call of Run; it is used by Run's goroutine only.
type runner struct {
	sup    *supervisor.Supervisor
	log    *zap.Logger
	budget time.Duration
	delay  time.Duration
	sigs   <-chan os.Signal
	served chan error // Serve's result; buffered (1)
}

func (d *runner) run(ctx context.Context) int {
	// Run uses only the supervisor's public lifecycle: Ready, which exists
	// before Serve begins, and Stop, whose deadline bounds the whole
	// shutdown. Only ctx's values are passed on: its end is turned into a
	// Stop with the budget below.
	serveCtx := context.WithoutCancel(ctx)
	d.served = make(chan error, 1)
	// Ends when Serve returns: after the shutdown, a failed start, or the root
	// giving up. After a forced return it may outlive Run; the process exits.
	go func() { d.served <- d.sup.Serve(serveCtx) }()

	d.log.Info("starting", zap.Duration("shutdown_budget", d.budget))
	ready := d.sup.Ready()
	for {
		select {
		case <-ready:
			ready = nil
			d.log.Info("started")
		case err := <-d.served:
			return d.ended(err)
		case sig := <-d.sigs:
			began := time.Now()
			d.log.Info("shutdown requested", zap.Stringer("signal", sig), zap.Duration("budget", d.budget))
			return d.shutdown(ctx.Done(), began)
		case <-ctx.Done():
			began := time.Now()
			d.log.Info("shutdown requested", zap.NamedError("cause", context.Cause(ctx)), zap.Duration("budget", d.budget))
			return d.shutdown(nil, began)
		}
	}
}

// ended handles a Serve that returned without being asked to stop: a failed
// start, the root giving up, or an auto-shutdown.
func (d *runner) ended(err error) int {
	code := ExitCode(err)
	switch code {
	case ExitOK:
		d.log.Info("stopped by itself", zap.Int("exit_code", code))
	case ExitStartFailed:
		d.log.Error("start failed", zap.Error(err), zap.Int("exit_code", code))
	case ExitGaveUp:
		d.log.Error("root supervisor gave up", zap.Error(err), zap.Int("exit_code", code))
	default:
		d.log.Error("stopped with errors", zap.Error(err), zap.Int("exit_code", code))
	}
	d.reportAbandoned(err)
	return code
}

// delayStop runs the shutdown delay: readiness turns 503 at once, and the
// tree goes on serving until the delay is over or cut short by cut (the end
// of Run's context, if it did not start the shutdown). It returns false with
// an exit code if Run must return instead of stopping the tree: a second
// signal, or the tree ending by itself meanwhile. The readiness mark stays
// until Run returns (undo).
func (d *runner) delayStop(cut <-chan struct{}) (code int, stop bool, undo func()) {
	undo = health.Unready(d.sup)
	d.log.Info("shutdown delay: unready, still serving", zap.Duration("delay", d.delay))
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, true, undo
	case <-cut:
		d.log.Info("shutdown delay cut short: the context ended")
		return 0, true, undo
	case err := <-d.served:
		return d.ended(err), false, undo
	case sig := <-d.sigs:
		d.log.Error("forced shutdown: second signal", zap.Stringer("signal", sig), zap.Int("exit_code", ExitForced))
		d.reportRunning()
		return ExitForced, false, undo
	}
}

// shutdown stops the tree within the budget that began with the stop
// request, after the shutdown delay if there is one, or until a second
// signal. cut ends the delay early.
func (d *runner) shutdown(cut <-chan struct{}, began time.Time) int {
	deadline := began.Add(d.budget)
	// The tree page shows the time left until Run returns.
	defer health.AnnounceShutdown(d.sup, health.Announcement{Began: began, Deadline: deadline})()
	if d.delay > 0 {
		code, stop, undo := d.delayStop(cut)
		defer undo()
		if !stop {
			return code
		}
	}
	stopCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Ends when Serve returns or at the deadline, whichever is first; the
	// deferred cancel ends it if Run returns before either.
	go func() { _ = d.sup.Stop(stopCtx) }()

	select {
	case err := <-d.served:
		return d.stopped(err, began)
	case sig := <-d.sigs:
		d.log.Error("forced shutdown: second signal", zap.Stringer("signal", sig),
			zap.Duration("elapsed", time.Since(began)), zap.Int("exit_code", ExitForced))
		d.reportRunning()
		return ExitForced
	case <-stopCtx.Done():
	}
	// The root abandons what is left at the same deadline and returns right
	// after, with a report naming each child; wait a moment for it.
	grace := time.NewTimer(reportTimeout)
	defer grace.Stop()
	select {
	case err := <-d.served:
		return d.stopped(err, began)
	case sig := <-d.sigs:
		d.log.Error("forced shutdown: second signal", zap.Stringer("signal", sig), zap.Int("exit_code", ExitForced))
	case <-grace.C:
		d.log.Error("shutdown overran its budget", zap.Duration("budget", d.budget),
			zap.Duration("elapsed", time.Since(began)), zap.Int("exit_code", ExitForced))
	}
	d.reportRunning()
	return ExitForced
}

// stopped handles Serve's result after a requested stop.
func (d *runner) stopped(err error, began time.Time) int {
	code := ExitCode(err)
	elapsed := time.Since(began)
	if code == ExitOK {
		d.log.Info("stopped", zap.Duration("elapsed", elapsed), zap.Int("exit_code", code))
		return code
	}
	d.log.Error("stopped with errors", zap.Error(err), zap.Duration("elapsed", elapsed), zap.Int("exit_code", code))
	d.reportAbandoned(err)
	return code
}

// reportAbandoned logs each child the tree abandoned, with its stacks as the
// entry's stack.
func (d *runner) reportAbandoned(err error) {
	for _, st := range stopTimeouts(err, nil) {
		logWithStacks(d.log, zap.ErrorLevel, "child abandoned: did not stop within its budget", st.Stacks,
			zap.String("path", st.Supervisor+"/"+st.Child), zap.Duration("shutdown", st.Budget))
	}
}

// reportRunning logs every child that still has goroutines, with their
// stacks as the entry's stack and what a fresh view of the tree says about the child. The
// goroutine profile is the source of truth: a supervisor no longer lists a
// child it is waiting for as running, and Go cannot kill what it abandoned.
func (d *runner) reportRunning() {
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	infos := make(map[string]supervisor.ChildInfo)
	if tree, err := d.sup.Tree(ctx); err != nil {
		d.log.Warn("cannot view the tree; reporting goroutines only", zap.Error(err))
	} else {
		walk(tree, func(c supervisor.ChildInfo, _ *supervisor.Tree) { infos[c.Path] = c })
	}
	live := supervisor.GoroutinesUnder(d.sup.Name())
	var paths []string
	for p := range live {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	n := 0
	for _, p := range paths {
		// A supervisor's own goroutine is only waiting for its children,
		// which are reported themselves.
		if slices.ContainsFunc(paths, func(q string) bool { return strings.HasPrefix(q, p+"/") }) {
			continue
		}
		n++
		g := live[p]
		fields := []zap.Field{zap.String("path", p), zap.Int("goroutines", g.Count)}
		if c, ok := infos[p]; ok {
			state := c.State.String()
			if c.State != supervisor.StateRunning {
				state = "stopping" // it has goroutines, but is not listed as running
			}
			fields = append(fields, zap.Stringer("kind", c.Kind), zap.String("state", state))
			if !c.Started.IsZero() {
				fields = append(fields, zap.Time("started_at", c.Started))
			}
			if c.Abandoned > 0 {
				fields = append(fields, zap.Int("abandoned", c.Abandoned))
			}
		}
		logWithStacks(d.log, zap.ErrorLevel, "still running", g.Stacks, fields...)
	}
	if n == 0 {
		d.log.Info("nothing was still running")
	}
}

// walk calls fn for every child in t, depth first in start order, with the
// child's subtree if it is a running supervisor.
func walk(t *supervisor.Tree, fn func(c supervisor.ChildInfo, sub *supervisor.Tree)) {
	for _, c := range t.Children {
		sub := t.Subtrees[c.ID]
		fn(c, sub)
		if sub != nil {
			walk(sub, fn)
		}
	}
}

// ExitCode maps the result of a root supervisor's Serve to Run's exit codes:
// nil is [ExitOK]; a *supervisor.StartError is [ExitStartFailed], unless the
// start was only interrupted by a stop request (supervisor.ErrStopping); a
// *supervisor.GiveUpError is [ExitGaveUp]; an abandoned child
// (supervisor.ErrStopTimeout) is [ExitForced]. When a result holds several,
// the first cause wins, in that order: a failed start or a give-up is what
// went wrong, abandoned children only what followed. Any other error is
// [ExitStartFailed].
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var se *supervisor.StartError
	if errors.As(err, &se) && !errors.Is(se.Err, supervisor.ErrStopping) {
		return ExitStartFailed
	}
	var ge *supervisor.GiveUpError
	if errors.As(err, &ge) {
		return ExitGaveUp
	}
	if errors.Is(err, supervisor.ErrStopTimeout) {
		return ExitForced
	}
	if se != nil {
		return ExitOK // a start interrupted by a stop, which completed in time
	}
	return ExitStartFailed
}

// stopTimeouts appends every *supervisor.StopTimeoutError in err's tree.
func stopTimeouts(err error, out []*supervisor.StopTimeoutError) []*supervisor.StopTimeoutError {
	switch e := err.(type) {
	case nil:
		return out
	case *supervisor.StopTimeoutError:
		return append(out, e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			out = stopTimeouts(inner, out)
		}
		return out
	case interface{ Unwrap() error }:
		return stopTimeouts(e.Unwrap(), out)
	}
	return out
}
