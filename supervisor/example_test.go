package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// exWorker is a child for the examples. Each incarnation prints "start <name>"
// and reports ready, then runs until its context is cancelled, printing
// "stop <name>". Its spec must set AwaitReady, so the supervisor waits for
// each print before it goes on, which keeps the output in a fixed order.
//
// exWorker is a comparable value, so Apply sees two equal exWorkers as the
// same service.
type exWorker struct{ name string }

func (w exWorker) Serve(ctx context.Context) error {
	fmt.Println("start", w.name)
	child.Ready(ctx)
	<-ctx.Done()
	fmt.Println("stop", w.name)
	return nil
}

// exCrasher is a child that reports ready, then returns whatever error is
// sent on its channel, or nil once its context is cancelled.
type exCrasher chan error

func (c exCrasher) Serve(ctx context.Context) error {
	child.Ready(ctx)
	select {
	case err := <-c:
		return err
	case <-ctx.Done():
		return nil
	}
}

// A tree with one worker: it crashes, the supervisor restarts it, and Stop
// shuts the tree down. A supervisortest.Recorder sequences the example on the
// supervisor's events instead of on sleeps.
func Example() {
	ctx := context.Background()
	crash := make(exCrasher)
	rec := supervisortest.NewRecorder()
	root, err := supervisor.New("app", []child.Spec{
		{ID: "worker", Service: crash, AwaitReady: true},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil { // returns once worker is ready
		fmt.Println(err)
		return
	}

	crash <- errors.New("connection lost")
	ev, _ := rec.WaitFor(ctx, supervisor.ChildExited, "worker")
	fmt.Printf("%s: %s exited (%v), restarted: %v, report: %s\n", ev.Supervisor, ev.Child, ev.Err, ev.Restarted, ev.Context())

	_, _ = rec.WaitForNth(ctx, supervisor.ChildStarted, "worker", 2)
	infos, _ := root.Children(ctx)
	fmt.Println(infos[0].ID, infos[0].State, "restarts:", infos[0].Restarts)

	fmt.Println("stop:", root.Stop(ctx))
	// Output:
	// app: worker exited (connection lost), restarted: true, report: child_terminated
	// worker running restarts: 1
	// stop: <nil>
}

// Supervisors nest: a *Supervisor is a child.Service, declared with Kind
// child.Supervisor. A child's path in the tree is its parents' spec IDs and
// its own; child.Path returns it, and the child's goroutine (and every
// goroutine it starts) carries it as the pprof label arbor_child.
func ExampleNew() {
	ctx := context.Background()
	pool := child.Func(func(ctx context.Context) error {
		label, _ := pprof.Label(ctx, "arbor_child")
		fmt.Println("path:", child.Path(ctx), "label:", label)
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	db, err := supervisor.New("db", []child.Spec{
		{ID: "pool", Service: pool, AwaitReady: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	root, err := supervisor.New("app", []child.Spec{
		{ID: "database", Service: db, Kind: child.KindSupervisor}, // awaited: ready once pool is
		{ID: "http", Service: exWorker{"http"}, AwaitReady: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	infos, _ := db.Children(ctx)
	fmt.Println(infos[0].Path, infos[0].State)
	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// path: app/database/pool label: app/database/pool
	// start http
	// app/database/pool running
	// stop http
	// Stop: <nil>
}

// StartChild adds a child at the end of the start order and returns once it
// has started; IDs are unique among a supervisor's children.
func ExampleSupervisor_StartChild() {
	ctx := context.Background()
	root, err := supervisor.New("app", []child.Spec{
		{ID: "db", Service: exWorker{"db"}, AwaitReady: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	cache := child.Spec{ID: "cache", Service: exWorker{"cache"}, AwaitReady: true}
	fmt.Println("StartChild:", root.StartChild(ctx, cache))
	fmt.Println("again:", errors.Is(root.StartChild(ctx, cache), supervisor.ErrAlreadyStarted))
	fmt.Println("TerminateChild:", root.TerminateChild(ctx, "cache"))
	fmt.Println("after terminate:", errors.Is(root.StartChild(ctx, cache), supervisor.ErrAlreadyPresent))
	fmt.Println("RestartChild:", root.RestartChild(ctx, "cache"))

	// The newest child is stopped first.
	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// start db
	// start cache
	// StartChild: <nil>
	// again: true
	// stop cache
	// TerminateChild: <nil>
	// after terminate: true
	// start cache
	// RestartChild: <nil>
	// stop cache
	// stop db
	// Stop: <nil>
}

// Children lists the children in start order (OTP's which_children lists
// the newest first); CountChildren counts them as OTP's count_children does.
func ExampleSupervisor_Children() {
	ctx := context.Background()
	sub, err := supervisor.New("jobs", []child.Spec{
		{ID: "runner", Service: exWorker{"runner"}, AwaitReady: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	root, err := supervisor.New("app", []child.Spec{
		{ID: "db", Service: exWorker{"db"}, AwaitReady: true},
		{ID: "jobs", Service: sub, Kind: child.KindSupervisor},
		{ID: "mailer", Service: exWorker{"mailer"}, AwaitReady: true, Restart: child.Transient},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := root.TerminateChild(ctx, "mailer"); err != nil {
		fmt.Println(err)
		return
	}

	infos, _ := root.Children(ctx)
	for _, c := range infos {
		fmt.Printf("%-6s %-10s %-9s %s\n", c.ID, c.Kind, c.Restart, c.State)
	}
	counts, _ := root.CountChildren(ctx)
	fmt.Printf("%+v\n", counts)

	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// start db
	// start runner
	// start mailer
	// stop mailer
	// db     worker     permanent running
	// jobs   supervisor permanent running
	// mailer worker     transient stopped
	// {Specs:3 Active:2 Supervisors:1 Workers:2}
	// stop runner
	// stop db
	// Stop: <nil>
}

// A simple_one_for_one supervisor runs instances of one template, each
// started with a typed argument and identified by a Handle.
func ExampleNewSimple() {
	ctx := context.Background()
	serveConn := func(ctx context.Context, addr string) error {
		fmt.Println("serving", addr)
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	}
	pool, err := supervisor.NewSimple("conns", child.Spec{ID: "conn", AwaitReady: true}, serveConn)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pool.Start(ctx); err != nil { // starts no instance
		fmt.Println(err)
		return
	}

	h1, _ := pool.StartChild(ctx, "10.0.0.1:5432")
	h2, _ := pool.StartChild(ctx, "10.0.0.2:5432")
	fmt.Println("handles:", h1.ID(), h2.ID())

	fmt.Println("TerminateChild:", pool.TerminateChild(ctx, h1))
	fmt.Println("again:", pool.TerminateChild(ctx, h1)) // already gone: a no-op
	infos, _ := pool.Children(ctx)
	for _, c := range infos {
		fmt.Println(c.ID, c.State)
	}
	counts, _ := pool.CountChildren(ctx)
	fmt.Printf("%+v\n", counts)

	fmt.Println("Stop:", pool.Stop(ctx))
	// Output:
	// serving 10.0.0.1:5432
	// serving 10.0.0.2:5432
	// handles: conn#1 conn#2
	// TerminateChild: <nil>
	// again: <nil>
	// conn#2 running
	// {Specs:1 Active:1 Supervisors:0 Workers:1}
	// Stop: <nil>
}

// Apply reconfigures a running supervisor: removed children stop, changed
// ones restart with their new spec, added ones start, and unchanged ones keep
// running.
func ExampleSupervisor_Apply() {
	ctx := context.Background()
	root, err := supervisor.New("app", []child.Spec{
		{ID: "db", Service: exWorker{"db"}, AwaitReady: true},
		{ID: "cache", Service: exWorker{"cache"}, AwaitReady: true},
		{ID: "mailer", Service: exWorker{"mailer"}, AwaitReady: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	cfg := root.Config()
	cfg.Intensity = escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second}
	cfg.Children = []child.Spec{
		{ID: "db", Service: exWorker{"db"}, AwaitReady: true},                              // unchanged
		{ID: "cache", Service: exWorker{"cache"}, AwaitReady: true, Shutdown: time.Second}, // changed
		{ID: "search", Service: exWorker{"search"}, AwaitReady: true},                      // added
	} // mailer is removed
	ch, err := root.Apply(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("added:", ch.Added, "removed:", ch.Removed, "changed:", ch.Changed, "unchanged:", ch.Unchanged, "flags:", ch.Flags)
	fmt.Println("intensity:", root.Config().Intensity)

	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// start db
	// start cache
	// start mailer
	// stop mailer
	// stop cache
	// start cache
	// start search
	// added: [search] removed: [mailer] changed: [cache] unchanged: [db] flags: true
	// intensity: 3 in 10s
	// stop search
	// stop cache
	// stop db
	// Stop: <nil>
}

// WithBackoff delays each restart. The delay is a timer on the supervisor's
// clock, so a supervisortest.Clock moves the example forward without
// sleeping.
func ExampleWithBackoff() {
	ctx := context.Background()
	clock := supervisortest.NewClock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))
	rec := supervisortest.NewRecorder()
	crash := make(exCrasher)
	root, err := supervisor.New("app", []child.Spec{
		// No start timer: the fake clock then holds only the backoff timers.
		{ID: "worker", Service: crash, AwaitReady: true, StartTimeout: child.Infinity},
	},
		supervisor.WithBackoff(func() supervisor.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.Multiplier, b.RandomizationFactor = time.Second, 2, 0
			b.MaxInterval = time.Minute
			b.MaxElapsedTime = 0 // never give up on its own
			b.Reset()
			return b
		}),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Minute}),
		supervisor.WithClock(clock),
		supervisor.WithHook(rec.Hook()),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	for n := 1; n <= 2; n++ {
		crash <- errors.New("upstream unavailable")
		ev, _ := rec.WaitForNth(ctx, supervisor.RestartScheduled, "worker", n)
		infos, _ := root.Children(ctx)
		fmt.Println("restart in", ev.Delay, "- worker is", infos[0].State)

		_ = clock.WaitForWaiters(ctx, 1) // the supervisor is waiting for the delay
		clock.Advance(ev.Delay)
		_, _ = rec.WaitForNth(ctx, supervisor.ChildStarted, "worker", n+1)
		infos, _ = root.Children(ctx)
		fmt.Println("worker is", infos[0].State, "after", clock.Now().Sub(infos[0].LastExitAt))
	}

	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// restart in 1s - worker is restarting
	// worker is running after 1s
	// restart in 2s - worker is restarting
	// worker is running after 2s
	// Stop: <nil>
}

// A supervisor that exceeds its restart intensity gives up: it stops its
// children and Serve (or Wait, after Start) returns a *GiveUpError. The error
// is an abnormal exit, so the supervisor's own parent restarts it even when it
// holds it as a transient child: that is escalation.
func ExampleGiveUpError() {
	ctx := context.Background()
	crash := make(exCrasher)
	root, err := supervisor.New("app", []child.Spec{
		{ID: "worker", Service: crash, AwaitReady: true},
	}, supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	crash <- errors.New("disk full") // MaxRestarts 0: the first restart is one too many
	err = root.Wait()

	fmt.Println(err)
	fmt.Println("exceeded:", errors.Is(err, escalation.ErrExceeded))
	var gu *supervisor.GiveUpError
	if errors.As(err, &gu) {
		fmt.Printf("child %q: %v\n", gu.Child, gu.Err)
	}
	fmt.Println("normal exit:", child.IsNormal(err))
	// Output:
	// supervisor app: escalation: restart intensity exceeded (0 in 1h0m0s): last exit of child "worker": disk full
	// exceeded: true
	// child "worker": disk full
	// normal exit: false
}

// Go cannot kill a goroutine. A child still running at the end of its
// shutdown budget is abandoned: the call that stopped it returns a
// *StopTimeoutError, and Children counts the incarnation in Abandoned until
// it returns. Restarting the child starts a new incarnation anyway, so for a
// while two run, and the count shows it.
func ExampleStopTimeoutError() {
	ctx := context.Background()
	clock := supervisortest.NewClock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))
	rec := supervisortest.NewRecorder()
	cancelled := make(chan struct{}, 2)
	release := make(chan struct{})
	stuck := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		<-ctx.Done()
		cancelled <- struct{}{}
		<-release // ignores the cancellation until released
		return nil
	})
	root, err := supervisor.New("app", []child.Spec{
		{ID: "stuck", Service: stuck, AwaitReady: true, StartTimeout: child.Infinity, Shutdown: 2 * time.Second},
	}, supervisor.WithClock(clock), supervisor.WithHook(rec.Hook()))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	terminated := make(chan error, 1)
	go func() { terminated <- root.TerminateChild(ctx, "stuck") }() // ends once stuck is abandoned
	<-cancelled
	_ = clock.WaitForWaiters(ctx, 1) // the 2 s shutdown budget
	clock.Advance(2 * time.Second)
	err = <-terminated
	fmt.Println(err)
	fmt.Println("stop timeout:", errors.Is(err, supervisor.ErrStopTimeout))

	fmt.Println("RestartChild:", root.RestartChild(ctx, "stuck"))
	infos, _ := root.Children(ctx)
	fmt.Println(infos[0].State, "abandoned:", infos[0].Abandoned)

	close(release) // the abandoned incarnation returns at last
	_, _ = rec.WaitFor(ctx, supervisor.AbandonedReturned, "stuck")
	infos, _ = root.Children(ctx)
	fmt.Println(infos[0].State, "abandoned:", infos[0].Abandoned)

	fmt.Println("Stop:", root.Stop(ctx))
	// Output:
	// supervisor app: child "stuck" did not stop within 2s and was abandoned
	// stop timeout: true
	// RestartChild: <nil>
	// running abandoned: 1
	// running abandoned: 0
	// Stop: <nil>
}
