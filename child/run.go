package child

import "context"

// Run calls svc.Serve(ctx) on the calling goroutine and then calls exit exactly
// once with the reason the incarnation ended: Serve's return value, a
// [*PanicError] if Serve panicked, or [ErrGoexit] if it called runtime.Goexit.
// exit runs in a deferred call, so it runs even after runtime.Goexit; Run does
// not return in that case.
func Run(ctx context.Context, svc Service, exit func(error)) {
	returned := false
	var err error
	defer func() {
		if returned {
			exit(err)
			return
		}
		// errgroup deliberately lets a panic crash the process: it has no one to
		// hand the failure to. A supervisor has: containing a crashing child and
		// restarting it is its whole job, so the panic becomes an ordinary
		// abnormal exit. The value and stack are kept, so nothing is lost.
		// recover returns nil both for runtime.Goexit and for panic(nil) before
		// Go 1.21; since 1.21 panic(nil) panics with *runtime.PanicNilError, so
		// nil here means Goexit.
		if v := recover(); v != nil {
			exit(NewPanicError(v, 2))
			return
		}
		exit(ErrGoexit)
	}()
	err = svc.Serve(ctx)
	returned = true
}
