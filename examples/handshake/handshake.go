// Package handshake is a service with both of a child's handshakes, the start
// (ready only once it can serve) and the stop (flush within the stop
// deadline), and the tests that prove each both ways: success, cancellation,
// timeout. docs/testing.md walks through them.
package handshake

import (
	"context"
	"time"

	"github.com/arborgo/arbor/child"
)

// Cache is a child that loads its data before it reports ready and flushes
// it when it is stopped.
type Cache struct {
	// Load fills the cache; the start handshake waits for it. It must return
	// once ctx is done.
	Load func(ctx context.Context) error
	// Flush writes the cache out; ctx ends at the child's stop deadline.
	Flush func(ctx context.Context) error
	// Deadline turns the stop deadline into Flush's context; default
	// context.WithDeadline. Tests on a fake clock replace it.
	Deadline func(ctx context.Context, d time.Time) (context.Context, context.CancelFunc)
}

// Serve loads, reports ready, waits for the stop, then flushes.
func (c *Cache) Serve(ctx context.Context) error {
	if err := c.Load(ctx); err != nil {
		return err // before Ready: the supervisor reports a failed start
	}
	child.Ready(ctx)
	<-ctx.Done()
	// The flush must outlive the stop request (ctx is already done) but not
	// the stop deadline, past which the supervisor abandons the child.
	fctx := context.WithoutCancel(ctx)
	if d, ok := child.StopDeadline(ctx); ok {
		withDeadline := c.Deadline
		if withDeadline == nil {
			withDeadline = context.WithDeadline
		}
		var cancel context.CancelFunc
		fctx, cancel = withDeadline(fctx, d)
		defer cancel()
	}
	return c.Flush(fctx)
}
