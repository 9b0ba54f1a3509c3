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
