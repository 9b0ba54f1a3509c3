// Package daemon runs a supervision tree as the whole life of a process: the
// helper a main function calls, so that the tree starts, runs until the
// process is asked to stop, and then stops within a budget the platform
// respects.
//
// The library never installs signal handlers on its own; calling [Run] is the
// opt-in.
//
// # Life of a daemon
//
// [Run] starts the root supervisor and waits. The first SIGINT or SIGTERM (or
// the end of the context given to Run) starts a graceful shutdown: the root
// stops its children in reverse start order, each within its own
// child.Spec.Shutdown budget, and the whole shutdown within one total budget
// ([DefaultShutdownBudget], 25 s, set with [WithShutdownBudget]) that fits
// inside the 30 s Kubernetes grants by default and the 90 s systemd grants.
// Readiness (package health) turns unready as soon as the shutdown starts.
//
// Behind a load balancer, give Run a shutdown delay ([WithShutdownDelay];
// [KubernetesShutdownDelay] under Kubernetes): at the signal, readiness turns
// 503 at once, the tree goes on serving for the delay while the load
// balancers take the process out of rotation, and only then does the tree
// stop, within what is left of the budget. Without it (the default, right
// for a process no load balancer routes to), requests already on their way
// when the listeners close are refused.
//
//	os.Exit(daemon.Run(ctx, root, daemon.WithShutdownDelay(daemon.KubernetesShutdownDelay)))
//
// A second signal during the shutdown forces an immediate return: Run logs
// what was still running, with the stacks of its goroutines, and returns
// [ExitForced]. Go cannot kill a goroutine, so after a forced return the tree
// may still be running; main must exit the process, which is what passing
// Run's result to os.Exit does.
//
// # Exit codes
//
// Run returns one of four codes, for main to pass to os.Exit; [ExitCode] maps
// a Serve error to the same codes.
//
//	0  ExitOK           clean stop: the tree stopped within its budget
//	1  ExitStartFailed  the tree failed to start (a child failed its start)
//	2  ExitGaveUp       the root supervisor gave up: restart intensity exceeded
//	3  ExitForced       a second signal forced the exit, or the shutdown overran its budget
//
// A non-zero code tells systemd or Kubernetes to restart the whole daemon,
// which is what OTP does when the top supervisor gives up.
//
// # Reports
//
// Run logs its progress and its reports to a zap logger ([WithLogger]); by
// default, as plain text lines on standard error.
//
// # Tests
//
// [WithSignals] replaces the process signals by a channel, so a test drives a
// daemon by sending os.Signal values on it.
//
// # Examples
//
// ExampleRun (a daemon driven by a signal, as a test does it) and
// ExampleExitCode are in example_test.go; pkg.go.dev shows them under the
// functions they illustrate, and examples/hello and examples/daemon are
// complete programs built on Run.
package daemon
