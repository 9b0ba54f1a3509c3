// Package control carries a supervisor's handle on one child incarnation in
// that incarnation's context. It is how package child's Ready, StopDeadline
// and Path reach the supervisor; only runners (the supervisor, the daemon
// around a root) install one.
package control

import (
	"context"
	"time"
)

// Control is what a runner installs in each incarnation's context with
// [With], so that the child can talk back to it through package child.
type Control interface {
	// Ready marks the incarnation ready. Calls after the first do nothing.
	Ready()
	// StopDeadline returns when the incarnation's shutdown budget runs out, and
	// false if it has not been asked to stop or its budget is unbounded.
	StopDeadline() (time.Time, bool)
	// Path returns the incarnation's place in its tree, such as "root/db/pool".
	Path() string
}

type key struct{}

// With returns a copy of ctx carrying c.
func With(ctx context.Context, c Control) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the Control ctx carries, or nil.
func From(ctx context.Context) Control {
	c, _ := ctx.Value(key{}).(Control)
	return c
}

// TermChange says how a cluster singleton's term of leadership changed.
type TermChange uint8

const (
	// TermBegun: the node won the term; the child is about to start.
	TermBegun TermChange = iota
	// TermLost: the lease was lost (or taken over); the child has
	// returned. Reported before the lease is released.
	TermLost
	// TermReleased: the node let the term go by its own choice (a hand-off,
	// or the child's own exit); the child has returned first.
	TermReleased
)

// Term is one change of a cluster singleton's term of leadership.
type Term struct {
	Change   TermChange
	Name     string // the name the singleton campaigns for
	Key      string // the term's election key (the fencing token's)
	Revision int64  // the key's create revision (the fencing token's)
	Err      error  // for TermReleased: what releasing the lease returned
}

// TermReporter is implemented by a Control whose runner reports the terms
// of the cluster singletons it runs. Package cluster calls it on the
// singleton's own goroutine; it must not block.
type TermReporter interface {
	ReportTerm(Term)
}
