package child

import (
	"context"
	"sync"
	"time"

	"github.com/arborgo/arbor/internal/drainend"
)

// DrainContext returns a context for the work a child finishes after it has
// been asked to stop: closing a server gracefully, flushing a queue. It
// carries ctx's values but is not cancelled with ctx; once ctx is done, it
// ends at the child's stop deadline ([StopDeadline]), a little before it in
// fact (a tenth of the time left, at most 100 ms), so that the child has the
// time to return before its supervisor abandons it.
//
//	<-ctx.Done()
//	dctx, cancel := child.DrainContext(ctx)
//	defer cancel()
//	if err := srv.Shutdown(dctx); err != nil {
//		srv.Close() // out of time: cut what is left
//	}
//
// Called once ctx is done, as above, the returned context has that deadline
// (its Err is context.DeadlineExceeded when it runs out). Called earlier, it
// reads the deadline when ctx ends and is cancelled then, with
// context.DeadlineExceeded as its context.Cause. The deadline is read once:
// if a shutdown's deadline later brings the child's forward, the supervisor
// abandons the child at the earlier time.
//
// Outside a supervisor, or for a child whose budget is unbounded
// ([Infinity]), it ends only when cancel is called. Calling cancel releases
// its resources; call it as soon as the drain is over.
func DrainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if d, ok := StopDeadline(ctx); ok {
			return context.WithDeadline(base, drainend.At(d, time.Now()))
		}
		return context.WithCancel(base)
	}

	dctx, cancel := context.WithCancelCause(base)
	var (
		mu      sync.Mutex
		timer   *time.Timer // guarded by mu
		stopped bool        // guarded by mu: cancel was called
	)
	// Runs once, on a goroutine of its own, when ctx ends; stopAfter
	// prevents it if cancel comes first.
	stopAfter := context.AfterFunc(ctx, func() {
		d, ok := StopDeadline(ctx)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = time.AfterFunc(time.Until(drainend.At(d, time.Now())), func() { cancel(context.DeadlineExceeded) })
		}
	})
	return dctx, func() {
		stopAfter()
		mu.Lock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}
