// Package child is the contract between a supervisor and one of its children.
//
// It is the vocabulary every other arbor package shares, and it imports only the
// standard library (and arbor's internal plumbing, which is not part of its API).
//
// # Services and incarnations
//
// A child is a [Service]: one call of its Serve method is one run, an
// incarnation. A supervisor calls Serve again to restart the child, so per-run
// state belongs in Serve's locals, never in the value behind the Service. [Func]
// adapts a plain function, the way http.HandlerFunc does.
//
// Serve runs on a goroutine owned by its supervisor. It must return promptly once
// its context is done: cancelling the context is the supervisor's polite stop,
// and [StopDeadline] tells the child how long it has to drain. Go cannot kill a
// goroutine, so a child that overruns its [Spec.Shutdown] budget is abandoned
// and reported, never silently forgotten.
//
// # Readiness
//
// A child whose spec sets [Spec.AwaitReady] is started only once it calls
// [Ready] with the context it was given; its next sibling starts after that.
// Returning [ErrIgnore] before reporting ready declines the start (OTP's ignore).
//
// # Why a child exited
//
// The supervisor turns a panic into a [*PanicError] (value plus program
// counters, formatted on demand) and a runtime.Goexit into [ErrGoexit]. A nil return, or an error
// wrapping [ErrShutdown], is a normal exit ([IsNormal]); anything else is
// abnormal. Whether an exit leads to a restart depends on the [Restart] type:
// [Permanent] children are always restarted, [Transient] ones only after an
// abnormal exit, [Temporary] ones never. A supervisor decides whether it stopped
// the child itself from its own state, never by looking for context.Canceled in
// the returned error.
//
// # Specs
//
// A [Spec] declares one child. Its zero values mean the documented defaults
// (permanent, a 5 s shutdown budget for a worker, no readiness handshake), and
// [Spec.Validate] reports a bad field as a [*SpecError] that matches
// [ErrInvalidSpec] with errors.Is.
package child
