// Package runner runs one incarnation of a child: it calls Serve and turns
// its end (a return, a panic, runtime.Goexit) into an exit reason. It is the
// plumbing under a supervisor; package child holds the contract.
package runner

import (
	"context"
	"errors"
)

// Service is child.Service, restated so that package child can import this one.
type Service interface {
	Serve(ctx context.Context) error
}

// ErrGoexit is the exit reason of a child that called runtime.Goexit
// (child.ErrGoexit).
var ErrGoexit = errors.New("child: runtime.Goexit called")

// NewPanic builds a *child.PanicError for value with the stack of the frame
// skip frames above its caller. Package child sets it when it is loaded, so
// that the constructor stays out of its public API.
var NewPanic func(value any, skip int) error

// Run calls svc.Serve(ctx) on the calling goroutine and then calls exit exactly
// once with the reason the incarnation ended: Serve's return value, a
// *child.PanicError if Serve panicked, or [ErrGoexit] if it called
// runtime.Goexit. exit runs in a deferred call, so it runs even after
// runtime.Goexit; Run does not return in that case.
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
			exit(NewPanic(v, 2))
			return
		}
		exit(ErrGoexit)
	}()
	err = svc.Serve(ctx)
	returned = true
}

// RunCrashing is Run without the recover: a panic crashes the process.
func RunCrashing(ctx context.Context, svc Service, exit func(error)) {
	returned := false
	var err error
	defer func() {
		if returned {
			exit(err)
			return
		}
		exit(ErrGoexit) // runtime.Goexit, or a panic on its way to crash the process
	}()
	err = svc.Serve(ctx)
	returned = true
}
