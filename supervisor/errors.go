package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
)

// Sentinel errors, matched with errors.Is. The typed errors below match one of
// them and carry the details.
var (
	// ErrNotRunning: the supervisor is not serving, so it cannot take the call.
	ErrNotRunning = errors.New("supervisor: not running")
	// ErrNotBuilt: the Supervisor was not made by [New] or [NewSimple] (a zero
	// Supervisor, or a zero Simple), so it can do nothing.
	ErrNotBuilt = errors.New("supervisor: not built with New or NewSimple")
	// ErrAlreadyServing: Serve or Start was called on a supervisor that is serving.
	ErrAlreadyServing = errors.New("supervisor: already serving")
	// ErrDuplicateID: two specs share an ID.
	ErrDuplicateID = errors.New("supervisor: duplicate child ID")
	// ErrAlreadyStarted: StartChild with the ID of a running child (OTP already_started).
	ErrAlreadyStarted = errors.New("supervisor: child already started")
	// ErrAlreadyPresent: StartChild with the ID of a child that is not running (OTP already_present).
	ErrAlreadyPresent = errors.New("supervisor: child already present")
	// ErrRunning: RestartChild or DeleteChild on a running child.
	ErrRunning = errors.New("supervisor: child is running")
	// ErrRestarting: RestartChild or DeleteChild on a child waiting to be restarted.
	ErrRestarting = errors.New("supervisor: child is restarting")
	// ErrNotFound: no child has that ID.
	ErrNotFound = errors.New("supervisor: child not found")
	// ErrStartFailed matches every [*StartError].
	ErrStartFailed = errors.New("supervisor: child failed to start")
	// ErrStartTimeout: a child did not report ready within its start budget.
	ErrStartTimeout = errors.New("supervisor: child did not report ready in time")
	// ErrStopTimeout matches every [*StopTimeoutError]: a child overran its
	// shutdown budget and was abandoned.
	ErrStopTimeout = errors.New("supervisor: child did not stop in time")
	// ErrBusyWithCaller: a child (or a descendant of it) made a call that
	// changes the supervisor while the supervisor was waiting on that very
	// child to report ready or to return; waiting for the call would
	// deadlock, so it is refused at once. Make such calls after child.Ready.
	ErrBusyWithCaller = errors.New("supervisor: call from the child the supervisor is waiting on")
	// ErrStopping: the call could not complete because the supervisor is shutting down.
	ErrStopping = errors.New("supervisor: shutting down")
	// ErrInvalidOption matches an invalid option given to [New], and to the
	// functions of arbor's other packages that take options (daemon.Run):
	// arbor has this one.
	ErrInvalidOption = errors.New("supervisor: invalid option")
	// ErrBackoffStop: a child's backoff policy returned BackOffStop; the
	// supervisor gives up as if its intensity was exceeded.
	ErrBackoffStop = errors.New("supervisor: backoff policy gave up")
)

// StartError reports a child that failed to start: it returned an error or
// panicked before it was ready, exited before it was ready, or did not report
// ready within its start budget. It matches [ErrStartFailed] and unwraps to
// the child's reason.
type StartError struct {
	Supervisor string // path of the supervisor
	Child      string // ID of the child
	Err        error  // why it failed
}

// Error names the child and the reason.
func (e *StartError) Error() string {
	return fmt.Sprintf("supervisor %s: child %q failed to start: %v", e.Supervisor, e.Child, e.Err)
}

// Unwrap returns the child's reason.
func (e *StartError) Unwrap() error { return e.Err }

// Is makes a StartError match [ErrStartFailed].
func (e *StartError) Is(target error) bool { return target == ErrStartFailed }

// GiveUpError is what Serve returns when the supervisor exceeded its restart
// intensity and stopped its children: escalation. It matches
// [escalation.ErrExceeded] (or [ErrBackoffStop]) and unwraps to the error of the
// child whose exit it could not absorb, so a parent sees an abnormal exit.
type GiveUpError struct {
	Supervisor string               // path of the supervisor
	Child      string               // ID of the child whose exit was one too many
	Err        error                // that child's exit reason
	Intensity  escalation.Intensity // the limit that was exceeded
	Reason     error                // escalation.ErrExceeded or ErrBackoffStop
}

// Error names the supervisor, the limit and the child.
func (e *GiveUpError) Error() string {
	return fmt.Sprintf("supervisor %s: %v (%v): last exit of child %q: %v", e.Supervisor, e.Reason, e.Intensity, e.Child, e.Err)
}

// Unwrap returns the reason and the child's error.
func (e *GiveUpError) Unwrap() []error { return []error{e.Reason, e.Err} }

// AbnormalExit is always true: giving up is an abnormal exit, even when the
// last exit it could not absorb was a normal one (see [child.IsNormal]).
func (e *GiveUpError) AbnormalExit() bool { return true }

var _ child.Abnormal = (*GiveUpError)(nil)

// StopTimeoutError reports a child that was still running at the end of its
// shutdown budget and was abandoned: Go cannot kill a goroutine, so it may
// still be running. It matches [ErrStopTimeout].
//
// When the child's wait was cut short by the shutdown's deadline (a deadline
// on [Supervisor.Stop]'s context, or the budget a parent gave the supervisor)
// rather than by the child's own Shutdown budget, Deadline is set and the
// error also matches [context.DeadlineExceeded].
type StopTimeoutError struct {
	Supervisor string        // path of the supervisor
	Child      string        // ID of the child
	Budget     time.Duration // the budget it overran
	Deadline   bool          // the shutdown's deadline, not the child's own budget, ended the wait
	Stacks     string        // its goroutines' stacks, when they could be found
}

// Error names the child and its budget.
func (e *StopTimeoutError) Error() string {
	if e.Deadline {
		return fmt.Sprintf("supervisor %s: child %q did not stop within %v, when the shutdown's deadline passed, and was abandoned", e.Supervisor, e.Child, e.Budget)
	}
	return fmt.Sprintf("supervisor %s: child %q did not stop within %v and was abandoned", e.Supervisor, e.Child, e.Budget)
}

// Is makes a StopTimeoutError match [ErrStopTimeout], and, if the shutdown's
// deadline cut it, [context.DeadlineExceeded].
func (e *StopTimeoutError) Is(target error) bool {
	return target == ErrStopTimeout || (e.Deadline && target == context.DeadlineExceeded)
}

// errSimpleOneForOne: a call of a Supervisor that does not apply to the
// simple_one_for_one run behind a Simple, which does not expose it.
var errSimpleOneForOne = errors.New("supervisor: not for a simple_one_for_one supervisor")

// errIgnored is startChild's result for a child that declined to start.
var errIgnored = errors.New("ignored")
