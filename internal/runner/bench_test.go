package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/runner"
)

var sink error

// BenchmarkRunPanic is the cost of containing one panic: recover, capture the
// program counters, build the *PanicError. The stack is not formatted.
func BenchmarkRunPanic(b *testing.B) {
	svc := child.Func(func(context.Context) error { panic("boom") })
	exit := func(err error) { sink = err }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		runner.Run(ctx, svc, exit)
	}
}

// BenchmarkRunReturn is child.Run around a Serve that returns an error: the
// baseline BenchmarkRunPanic adds to.
func BenchmarkRunReturn(b *testing.B) {
	errRet := errors.New("ret")
	svc := child.Func(func(context.Context) error { return errRet })
	exit := func(err error) { sink = err }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		runner.Run(ctx, svc, exit)
	}
}

// BenchmarkPanicErrorStack formats a captured stack, which happens only when
// a report is written.
func BenchmarkPanicErrorStack(b *testing.B) {
	var pe *child.PanicError
	runner.Run(context.Background(), child.Func(func(context.Context) error { panic("boom") }), func(err error) {
		errors.As(err, &pe)
	})
	b.ReportAllocs()
	for b.Loop() {
		_ = pe.Stack()
	}
}
