package child

import (
	"context"
	"time"

	"github.com/arborgo/arbor/internal/control"
)

// Ready tells the supervisor that the child running with ctx has finished
// starting, so its next sibling may start. A child whose spec sets
// [Spec.AwaitReady] must call it; for other children it does nothing. It is
// safe to call more than once and from any goroutine. Outside a supervisor,
// or with a context that is not the child's (one not derived from the ctx its
// Serve was given), it does nothing: there is no child to mark ready, and a
// supervisor waiting on the child reports the missed readiness when its
// StartTimeout runs out, with what to do.
//
// The first call returns once the supervisor has taken the readiness in (or
// ctx is done, or the supervisor has stopped): from then on the supervisor
// no longer waits on this child, so a call the child makes next to its
// supervisor, with ctx, is not refused as coming from the child being
// waited on.
func Ready(ctx context.Context) {
	if c := control.From(ctx); c != nil {
		c.Ready()
	}
}

// StopDeadline returns the time by which the child running with ctx must have
// returned from Serve, once its supervisor has asked it to stop by cancelling
// ctx. It returns false before that, for an unbounded budget, and outside a
// supervisor. A child uses it to drain within its budget.
func StopDeadline(ctx context.Context) (time.Time, bool) {
	if c := control.From(ctx); c != nil {
		return c.StopDeadline()
	}
	return time.Time{}, false
}

// Path returns the tree path of the child running with ctx, such as
// "root/db/pool", or "" outside a supervisor.
func Path(ctx context.Context) string {
	if c := control.From(ctx); c != nil {
		return c.Path()
	}
	return ""
}
