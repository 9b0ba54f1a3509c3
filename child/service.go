package child

import "context"

// Service is one supervised child. Each call of Serve is one incarnation: it
// runs on the calling goroutine, keeps per-run state in locals, returns promptly
// once ctx is done, and may be called again after it returns.
//
// The returned error tells the supervisor why the incarnation ended: nil or an
// error wrapping [ErrShutdown] is a normal exit, anything else is abnormal.
type Service interface {
	Serve(ctx context.Context) error
}

// Func adapts an ordinary function to a [Service].
type Func func(ctx context.Context) error

// Serve calls f(ctx).
func (f Func) Serve(ctx context.Context) error { return f(ctx) }
