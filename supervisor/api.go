package supervisor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/enum"
)

// ChildState is a child's state as [Supervisor.Children] reports it.
type ChildState uint8

const (
	// StateRunning: an incarnation is running.
	StateRunning ChildState = iota
	// StateRestarting: the child is waiting to be restarted (a backoff delay, or a
	// retry after a failed start).
	StateRestarting
	// StateStopped: the spec is kept with nothing running: terminated through the
	// API, a transient child that ended normally, or one that ignored its start
	// (never a simple_one_for_one instance: one that is not restarted is deleted).
	StateStopped
	// StateStarting: an awaited child has been launched and has not reported ready
	// yet (a restart attempt shows Restarting instead, as OTP does).
	StateStarting
	// StateStopping: the supervisor has cancelled the child's context and waits
	// for it to return, within its shutdown budget.
	StateStopping
)

var stateNames = [...]string{StateRunning: "running", StateRestarting: "restarting", StateStopped: "stopped", StateStarting: "starting", StateStopping: "stopping"}

var stateText = enum.Text[ChildState]{Type: "ChildState", Names: stateNames[:], Invalid: enum.Errorf("supervisor: unknown child state")}

// String returns the state's name, such as "running".
func (s ChildState) String() string { return stateText.String(s) }

// MarshalText encodes s as its name. An unknown value is an error.
func (s ChildState) MarshalText() ([]byte, error) { return stateText.Marshal(s) }

// UnmarshalText parses a child state name, such as "running".
func (s *ChildState) UnmarshalText(text []byte) error { return stateText.Unmarshal(text, s) }

// ChildInfo describes one child (OTP's which_children, with more detail).
type ChildInfo struct {
	ID string
	// Template is, for an instance of a simple_one_for_one supervisor, the
	// ID of its template; empty for other children.
	Template string
	Path     string // place in the tree, such as "root/db/pool"
	Kind     child.Kind
	Restart  child.Restart
	State    ChildState
	// Restarts counts the times this Serve restarted the child by itself:
	// after its own exit, and as a member of a group restart (each child a
	// group restart starts again counts one, as does a retry that starts
	// it). RestartChild, StartChild and Apply's starts do not count. It
	// starts at 0 in each Serve, and for a child Apply changed; Apply keeps
	// it for unchanged children.
	Restarts   int
	Abandoned  int       // incarnations abandoned after their shutdown budget that have not returned yet
	Started    time.Time // when the running incarnation started; zero if none runs
	LastExit   error     // reason of the last exit, if any
	LastExitAt time.Time // when the last exit happened
	// LastExitRequested: the last exit followed a stop the supervisor asked
	// for (shutdown, TerminateChild, a group restart), so LastExit, often
	// context.Canceled, is no crash.
	LastExitRequested bool
	// Term is, for a cluster singleton child (package cluster) that leads
	// its name on this node, its current term; nil for a candidate, and for
	// any other child.
	Term *Term
}

// Counts is OTP's count_children.
type Counts struct {
	Specs       int // all children
	Active      int // children with a running incarnation
	Supervisors int // children of kind child.Supervisor, running or not
	Workers     int // children of kind child.Worker, running or not
}

type op uint8

const (
	opStart op = iota
	opTerminate
	opRestart
	opDelete
	opChildren
	opCount
	opApply
	opStartInstance
	opSpec
	opInfo
)

// readOnly reports whether the loop may answer the request in the middle of
// starting or stopping a child.
func (o op) readOnly() bool {
	switch o {
	case opChildren, opCount, opSpec, opInfo:
		return true
	}
	return false
}

type request struct {
	op     op
	id     string
	spec   child.Spec
	apply  *applyReq
	svc    child.Service   // opStartInstance
	seq    uint64          // opStartInstance: the instance's number (its ID is in id)
	ctx    context.Context // opStartInstance: the caller's, which bounds the start
	handle bool            // opTerminate: id comes from a Handle
	caller *incarnation    // the incarnation making the call, if it passed its context
	reply  chan response   // the call's (see call)
}

// response is small, so that the frequent calls, which answer with an error
// alone, copy little; the others box their answer in val.
type response struct {
	err error
	id  string // opStartInstance
	val any    // []ChildInfo, Counts, child.Spec, Info or Changes, by op
}

func (s *Supervisor) call(ctx context.Context, req request) (response, error) {
	if s == nil {
		return response{}, ErrNotBuilt // in a zero Simple
	}
	s.mu.Lock()
	r := s.cur
	s.mu.Unlock()
	if r == nil {
		return response{}, s.idleErr()
	}
	resp, err := r.call(ctx, req)
	if err == errRunOver {
		err = ErrNotRunning
	}
	return resp, err
}

// errRunOver is run.call's error when the run ended before taking the call.
var errRunOver = errors.New("supervisor: run over")

// call sends req to the run r and waits for the reply.
func (r *run) call(ctx context.Context, req request) (response, error) {
	req.caller = callerOf(ctx)
	c := calls.Get().(*call)
	req.reply = c.reply
	c.request = req
	c.state.Store(callQueued)
	select {
	case r.msgs <- msg{kind: msgCall, call: c}:
	case <-r.done:
		c.recycle()
		return response{}, errRunOver
	case <-ctx.Done():
		c.recycle()
		return response{}, ctx.Err()
	}
	select {
	case resp := <-c.reply:
		c.recycle() // answered: the loop holds it no more
		return resp, resp.err
	case <-ctx.Done():
		if c.withdraw() {
			return response{}, ctx.Err() // never taken: not carried out
		}
	case <-r.done:
		if c.withdraw() {
			return response{}, errRunOver // the run ended before taking it
		}
	}
	// The loop took it, and answers every call it took, even when it stops.
	select {
	case resp := <-c.reply:
		c.recycle()
		return resp, resp.err
	case <-ctx.Done():
		return response{}, ctx.Err() // the reply may still come: not reused
	}
}

// call is an API call on its way through a run's inbox. A call waiting in
// the inbox is not carried out yet: a caller that gives up (its ctx ends, or
// the run ends) withdraws it, and the loop drops it. Whichever of the loop
// (take) and the caller (withdraw) moves state first decides.
type call struct {
	request
	state atomic.Uint32 // callQueued, then callTaken by the loop or callWithdrawn by the caller
	reply chan response // buffered (1): the loop never blocks replying
}

const (
	callQueued uint32 = iota
	callTaken
	callWithdrawn
)

// take claims the call for the loop: it returns the request to carry out,
// or nil if the caller has withdrawn it.
func (c *call) take() *request {
	if !c.state.CompareAndSwap(callQueued, callTaken) {
		return nil
	}
	return &c.request
}

// withdraw takes back a call the loop has not taken, and reports whether it
// did. A withdrawn call may still sit in the inbox: it is not reused.
func (c *call) withdraw() bool { return c.state.CompareAndSwap(callQueued, callWithdrawn) }

// recycle puts back a call nobody holds any more: one the loop never saw, or
// answered (its reply drained).
func (c *call) recycle() {
	c.request = request{}
	calls.Put(c)
}

// calls recycles calls and their reply channels, which are empty when put back.
var calls = sync.Pool{New: func() any { return &call{reply: make(chan response, 1)} }}

// StartChild adds spec as the last child and starts it, waiting for its
// started handshake (OTP's start_child). It returns [ErrAlreadyStarted] or
// [ErrAlreadyPresent] if the ID is taken, a [*child.SpecError] for an invalid
// spec (as [New] would, a significant one under auto-shutdown [AutoShutdownNever]
// included), and a [*StartError] if the start failed. After an error nothing
// is kept.
// A child that declines to start (child.ErrIgnore) is kept, not running,
// unless it is temporary.
func (s *Supervisor) StartChild(ctx context.Context, spec child.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	_, err := s.call(ctx, request{op: opStart, spec: spec.WithDefaults()})
	return err
}

// TerminateChild stops the child with that ID within its shutdown budget and
// keeps its spec, not running; a temporary child's spec is deleted. It
// succeeds for a child that is not running, and cancels a pending restart. It
// returns a [*StopTimeoutError] if the child had to be abandoned.
func (s *Supervisor) TerminateChild(ctx context.Context, id string) error {
	_, err := s.call(ctx, request{op: opTerminate, id: id})
	return err
}

// RestartChild starts a child that is not running (OTP's restart_child). It
// does not count against the restart intensity. It returns [ErrRunning],
// [ErrRestarting], [ErrNotFound], or a [*StartError], after which the spec
// stays, not running.
func (s *Supervisor) RestartChild(ctx context.Context, id string) error {
	_, err := s.call(ctx, request{op: opRestart, id: id})
	return err
}

// DeleteChild removes the spec of a child that is not running. It returns
// [ErrRunning], [ErrRestarting] or [ErrNotFound].
func (s *Supervisor) DeleteChild(ctx context.Context, id string) error {
	_, err := s.call(ctx, request{op: opDelete, id: id})
	return err
}

// Children lists the children in start order (OTP lists newest first).
func (s *Supervisor) Children(ctx context.Context) ([]ChildInfo, error) {
	resp, err := s.call(ctx, request{op: opChildren})
	children, _ := resp.val.([]ChildInfo)
	return children, err
}

// CountChildren counts the children as OTP's count_children does.
func (s *Supervisor) CountChildren(ctx context.Context) (Counts, error) {
	resp, err := s.call(ctx, request{op: opCount})
	counts, _ := resp.val.(Counts)
	return counts, err
}

// ChildSpec returns the spec of the child with that ID, defaults filled in.
func (s *Supervisor) ChildSpec(ctx context.Context, id string) (child.Spec, error) {
	resp, err := s.call(ctx, request{op: opSpec, id: id})
	spec, _ := resp.val.(child.Spec)
	return spec, err
}
