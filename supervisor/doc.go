// Package supervisor runs trees of supervised goroutines with the semantics
// of Erlang/OTP's supervisor: ordered starts, restart types and strategies, a
// restart intensity past which a supervisor gives up and escalates to its
// parent, and ordered shutdown within budgets.
//
// docs/semantics.md in the repository states every rule, each with the test
// that demonstrates it, and lists where arbor differs from OTP and why.
//
// # Building a tree
//
// A child is a [child.Service]: a Serve(ctx) method that runs one incarnation
// and returns why it ended. A [child.Spec] declares it: its ID, when it is
// restarted ([child.Permanent], [child.Transient], [child.Temporary]), its
// shutdown budget and its start handshake. [New] checks the specs and options
// and returns a [*Supervisor]; it starts nothing.
//
//	db, err := supervisor.New("db", []child.Spec{
//		{ID: "pool", Service: pool, AwaitReady: true},
//		{ID: "migrator", Service: migrator, Restart: child.Transient},
//	}, supervisor.WithStrategy(strategy.RestForOne))
//
// A *Supervisor is itself a child.Service, so supervisors nest: declare the
// nested one with Kind [child.KindSupervisor], which makes its parent wait for its
// readiness and gives it an unbounded shutdown budget, bounded by the
// parent's own.
//
//	root, err := supervisor.New("app", []child.Spec{
//		{ID: "db", Service: db, Kind: child.Supervisor},
//		{ID: "http", Service: server, AwaitReady: true},
//	})
//
// Options ([WithStrategy], [WithIntensity], [WithBackoff], [WithAutoShutdown],
// [WithStartTimeout], [WithLogger], [WithHook], [WithClock],
// [WithCrashOnPanic]) default to OTP's flags: one_for_one, at most 1 restart
// in 5 seconds, no auto-shutdown. A bad option or spec makes New return an
// error matching [ErrInvalidOption], [ErrDuplicateID] or
// [child.ErrInvalidSpec]; [CheckSpecs] runs the same checks alone.
//
// # Starting and readiness
//
// [Supervisor.Serve] starts the children one at a time in declared order and
// then keeps them running until its context is done. [Supervisor.Start] runs
// Serve on its own goroutine and returns once every child has started;
// [Supervisor.Stop] and [Supervisor.Wait] end it and wait for it.
//
// A child whose spec sets [child.Spec.AwaitReady] counts as started only once
// it calls [child.Ready]; its next sibling starts after that, so a child that
// depends on an earlier one finds it ready. [child.Spec.StartTimeout] bounds
// that wait for one child, and [WithStartTimeout] bounds the whole ordered
// start. A nested supervisor reports ready once all its own children have, so
// readiness composes through the tree; [Supervisor.Ready] exposes it as a
// channel.
//
// If an awaited child fails to start (it returns, panics or times out before
// it is ready), the children after it never start, the ones before it are stopped
// in reverse order, and Serve returns a [*StartError] naming the child. A
// child that returns [child.ErrIgnore] before it is ready declines its start,
// as OTP's ignore: nothing runs, and the start goes on.
//
// # Restarts
//
// When a child's Serve returns by itself, the supervisor classifies the exit
// from what it knows: nil or an error wrapping [child.ErrShutdown] is normal,
// anything else, a recovered panic ([*child.PanicError]) included, is
// abnormal. Permanent children are restarted after any exit, transient ones
// after an abnormal exit, temporary ones never. The strategy
// ([strategy.OneForOne], [strategy.OneForAll], [strategy.RestForOne]) says
// which siblings are stopped, in reverse start order, and started again with
// it.
//
// A restart whose start fails is retried, each attempt counted as a new
// restart, and the supervisor keeps answering calls and stop requests
// between attempts. [WithBackoff] puts a delay before each restart, waited as
// a timer on the supervisor's clock, never a sleep.
//
// # Escalation
//
// Every restart is recorded in a sliding window ([WithIntensity], an
// [escalation.Intensity]). The restart that would be MaxRestarts+1 within
// Period is not attempted: the supervisor gives up, stops its children in
// reverse start order, and Serve returns a [*GiveUpError] matching
// [escalation.ErrExceeded] and wrapping the child's last error. Giving up is
// an abnormal exit ([GiveUpError.AbnormalExit]), so the parent restarts the
// supervisor, or gives up in turn, even if it holds it as a transient child.
//
// # Shutdown
//
// Cancelling Serve's context, or calling [Supervisor.Stop], stops the
// children one at a time in reverse start order. Each child's context is
// cancelled, the polite stop, and it has its [child.Spec.Shutdown] budget to
// return; [child.StopDeadline] tells it when that runs out. A deadline on
// Stop's context bounds the whole shutdown, including a stop already under
// way when Stop was called, and Stop then returns the abandonments it caused.
// Once a stop is asked for, nothing is started or restarted any more, and
// calls that would change the supervisor get [ErrStopping]. Serve returns
// only after every child has returned or been abandoned.
//
// Go cannot kill a goroutine. A child still running at the end of its budget
// is abandoned: a [ChildAbandoned] event reports it, with the stacks of its
// goroutines, Stop, Serve or TerminateChild returns a [*StopTimeoutError] for
// it, and [ChildInfo.Abandoned] counts it until it returns. A child restarted while
// an abandoned incarnation still runs starts anyway, a nested supervisor
// included (a new Serve begins beside the abandoned one); the count and the
// [AbandonedReturned] event keep the overlap visible. If that start fails,
// the retry waits for the abandoned incarnation to return. [child.BrutalKill]
// cancels a child without waiting: it is abandoned at once unless it has
// already returned, and the call that stopped it returns no error for it.
//
// # Dynamic children
//
// While a supervisor serves, [Supervisor.StartChild] adds a child last in the
// start order, [Supervisor.TerminateChild] stops one and keeps its spec,
// [Supervisor.RestartChild] starts a stopped one again, and
// [Supervisor.DeleteChild] removes a stopped one, with OTP's errors
// ([ErrAlreadyStarted], [ErrAlreadyPresent], [ErrRunning], [ErrRestarting],
// [ErrNotFound]). [Supervisor.Children] lists the children in start order,
// [Supervisor.CountChildren] counts them, and [Supervisor.Info] and
// [Supervisor.Tree] give a view of one supervisor or a whole tree. These
// methods are messages to the goroutine running Serve, so they are safe from
// any goroutine, a child's included; on a supervisor that is not serving they
// return [ErrNotRunning].
//
// Children added with StartChild belong to one Serve: when a supervisor is
// restarted, it starts again from its configuration, as OTP does.
//
// # simple_one_for_one
//
// [NewSimple] builds a [Simple] supervisor: any number of instances of one
// template, each started with a typed argument by [Simple.StartChild], which
// returns a [Handle], and restarted with the same argument. It starts with no
// instances and stops them all in parallel under the template's one shared
// shutdown budget.
//
//	pool, err := supervisor.NewSimple("conns", child.Spec{ID: "conn", AwaitReady: true},
//		func(ctx context.Context, addr string) error { return serveConn(ctx, addr) })
//	h, err := pool.StartChild(ctx, "10.0.0.1:5432")
//	err = pool.TerminateChild(ctx, h)
//
// # Live reconfiguration
//
// [Supervisor.Apply] replaces a supervisor's [Config] (strategy, intensity,
// auto-shutdown and children) while it runs: removed children are stopped,
// changed ones restarted with their new spec, added ones started, and
// unchanged ones left running; [Changes] reports which were which. A service
// can implement [Equaler] to say when it is unchanged. The applied
// configuration is also what the next Serve starts from; [Supervisor.Config]
// returns it.
//
// # Events and logging
//
// Everything a supervisor does is an [Event] of a closed set of kinds
// ([EventKind]); [Event.Context] maps it to the OTP report it corresponds to,
// where OTP has one. Events are logged through the zap logger given with
// [WithLogger] (none by default) and delivered to the hooks given with
// [WithHook], in order, on a goroutine of their own, so a slow hook never
// holds the supervisor up and a hook may call the supervisor back.
//
// Every child goroutine carries a runtime/pprof label, arbor_child, set to its
// path in the tree (such as "app/db/pool"), and so do the goroutines it
// starts; a goroutine profile attributes them to their child.
//
// # Testing
//
// Package [github.com/arborgo/arbor/supervisor/supervisortest] provides a
// fake [Clock], moved only by its Advance method and set with [WithClock],
// and a Recorder of events that can wait for one, so tests synchronise on
// what happened instead of sleeping. Every restart window, backoff delay,
// start timeout and shutdown budget is read from the supervisor's Clock.
package supervisor
