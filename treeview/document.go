package treeview

import (
	"errors"
	"strings"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// Document is the JSON answer of tree.json.
type Document struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// Root is the root supervisor.
	Root *Node `json:"root"`
	// Shutdown is present once the tree's shutdown has been asked for.
	Shutdown *Shutdown `json:"shutdown,omitempty"`
}

// Shutdown is what the page shows of a shutdown under way.
type Shutdown struct {
	// Stopping reports that the root is stopping its children; false during a
	// shutdown delay (daemon.WithShutdownDelay), when the tree still serves
	// but readiness already fails.
	Stopping bool `json:"stopping"`
	// Deadline is when the whole shutdown must be over, and Left the time
	// left until then from [Document.Time], as a Go duration such as "3.2s";
	// both are known only for a tree run by daemon.Run.
	Deadline *time.Time `json:"deadline,omitempty"`
	Left     string     `json:"left,omitempty"`
}

// Node is one supervisor or child in a [Document].
type Node struct {
	// Name is the child's ID, or the root supervisor's name.
	Name string `json:"name"`
	// Path is the node's place in the tree, such as "root/db/pool"; it is
	// also the value of the arbor_child pprof label on its goroutines.
	Path string `json:"path"`
	// Kind is "supervisor" or "worker".
	Kind string `json:"kind"`
	// Restart is the child's restart type ("permanent", "transient",
	// "temporary"); empty for the root.
	Restart string `json:"restart,omitempty"`
	// State is one of:
	//   - "running": started and running;
	//   - "starting": launched, waiting for its readiness (a supervisor:
	//     starting its children);
	//   - "restarting": waiting to be restarted, or being restarted;
	//   - "stopping": asked to stop, not returned yet (a supervisor: shutting
	//     down);
	//   - "stopped": nothing running.
	State string `json:"state"`
	// Ready reports a worker running, or a supervisor that has started every
	// child.
	Ready bool `json:"ready"`
	// Restarts counts the times its supervisor started it again.
	Restarts int `json:"restarts"`
	// Abandoned counts incarnations abandoned after their shutdown budget
	// that have not returned yet.
	Abandoned int `json:"abandoned,omitempty"`
	// StartedAt is when the running incarnation started; absent if none runs.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// LastExit is the last time an incarnation ended, if one has.
	LastExit *Exit `json:"last_exit,omitempty"`
	// Term is, for a cluster singleton leading its name on this node, the
	// name and the term's fencing token, such as "billing
	// /arbor/singletons/billing/694d…@42"; absent otherwise.
	Term string `json:"term,omitempty"`
	// Waiting reports, during the root's shutdown, a child the shutdown is
	// waiting for: asked to stop, not returned yet. Goroutines counts its
	// goroutines still running, those of its own children included.
	Waiting    bool `json:"waiting,omitempty"`
	Goroutines int  `json:"goroutines,omitempty"`

	// Strategy is a supervisor's restart strategy, such as "one_for_one".
	Strategy string `json:"strategy,omitempty"`
	// Intensity is a supervisor's restart limit and how close it is to it.
	Intensity *Intensity `json:"intensity,omitempty"`
	// Children are a running supervisor's children, in start order.
	Children []*Node `json:"children,omitempty"`
}

// Intensity is a supervisor's restart limit, and the restarts its current
// window holds: past MaxRestarts within Period the supervisor gives up.
type Intensity struct {
	// MaxRestarts is how many restarts the window may hold.
	MaxRestarts int `json:"max_restarts"`
	// Period is the window's length, as a Go duration such as "5s".
	Period string `json:"period"`
	// InWindow is how many restarts the window holds now.
	InWindow int `json:"restarts_in_window"`
}

// Exit is how and when an incarnation last ended.
type Exit struct {
	// At is when it ended.
	At time.Time `json:"at"`
	// Kind is "normal" (returned nil), "shutdown" (an orderly stop reason,
	// child.ErrShutdown), "panic" or "error". A child its supervisor stopped
	// shows whatever it returned then.
	Kind string `json:"kind"`
	// Reason is the error text; for a panic, its first line (the panic
	// value) without the stack, which the supervisor's report carries.
	Reason string `json:"reason,omitempty"`
	// Requested reports an exit that followed a stop its supervisor asked
	// for (a shutdown, TerminateChild, a group restart): whatever Kind, no
	// crash.
	Requested bool `json:"requested,omitempty"`
}

// NewDocument converts a tree snapshot taken at now into a [Document]. It does
// no I/O.
func NewDocument(t *supervisor.Tree, now time.Time) *Document {
	root := supervisorNode(&Node{Name: t.Path, Path: t.Path, Kind: child.KindSupervisor.String()}, t)
	return &Document{Time: now, Root: root}
}

// supervisorNode fills n's supervisor fields and children from t.
func supervisorNode(n *Node, t *supervisor.Tree) *Node {
	n.Strategy = t.Strategy.String()
	n.Intensity = &Intensity{MaxRestarts: t.Intensity.MaxRestarts, Period: t.Intensity.Period.String(), InWindow: t.InWindow}
	n.Ready = t.Ready
	switch {
	case t.Stopping:
		n.State = "stopping"
	case !t.Ready:
		n.State = "starting"
	case n.State == "":
		n.State = "running" // the root: it answered, so it runs
	}
	n.Children = make([]*Node, 0, len(t.Children))
	for _, c := range t.Children {
		cn := childNode(c)
		if sub := t.Subtrees[c.ID]; sub != nil {
			supervisorNode(cn, sub)
		}
		n.Children = append(n.Children, cn)
	}
	return n
}

func childNode(c supervisor.ChildInfo) *Node {
	n := &Node{
		Name:      c.ID,
		Path:      c.Path,
		Kind:      c.Kind.String(),
		Restart:   c.Restart.String(),
		State:     c.State.String(),
		Ready:     c.State == supervisor.StateRunning,
		Restarts:  c.Restarts,
		Abandoned: c.Abandoned,
	}
	if c.State == supervisor.StateStopped && !c.Started.IsZero() {
		n.State = "starting" // launched, not ready yet
	}
	if !c.Started.IsZero() {
		at := c.Started
		n.StartedAt = &at
	}
	if c.Term != nil {
		n.Term = c.Term.String()
	}
	if !c.LastExitAt.IsZero() {
		n.LastExit = exitOf(c.LastExit, c.LastExitAt)
		n.LastExit.Requested = c.LastExitRequested
	}
	return n
}

func exitOf(err error, at time.Time) *Exit {
	e := &Exit{At: at}
	var pe *child.PanicError
	switch {
	case err == nil:
		e.Kind = "normal"
	case errors.As(err, &pe):
		e.Kind, e.Reason = "panic", err.Error()
		if i := strings.IndexByte(e.Reason, '\n'); i >= 0 {
			e.Reason = e.Reason[:i]
		}
	case child.IsNormal(err):
		e.Kind, e.Reason = "shutdown", err.Error()
	default:
		e.Kind, e.Reason = "error", err.Error()
	}
	return e
}

// markWaiting marks, in a stopping tree, the children the shutdown waits
// for, with the number of their goroutines still running (live, by path,
// from supervisor.GoroutinesUnder), their descendants' included.
func markWaiting(n *Node, live map[string]supervisor.Goroutines) {
	markWaitingIn(n, underCounts(live))
}

// underCounts adds each path's count to the path and to each of its
// ancestors, so that a subtree's total is one lookup.
func underCounts(live map[string]supervisor.Goroutines) map[string]int {
	under := make(map[string]int, 2*len(live))
	for p, g := range live {
		for {
			under[p] += g.Count
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return under
}

func markWaitingIn(n *Node, under map[string]int) {
	for _, c := range n.Children {
		if c.State == "stopping" {
			c.Waiting = true
			c.Goroutines += under[c.Path]
		}
		markWaitingIn(c, under)
	}
}
