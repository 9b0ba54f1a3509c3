package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/runner"
)

// The panicking children are named functions so that the captured stack can be
// checked for their names.

func panicString(context.Context) error { panic("boom") }

func panicInt(context.Context) error { panic(42) }

func panicEOF(context.Context) error { panic(io.EOF) }

func panicNil(context.Context) error { panic(nil) }

func panicNilMap(context.Context) error {
	var m map[string]int
	//lint:ignore SA5000 the runtime panic is what this child is for
	m["x"] = 1
	return nil
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

func panicCodeError(context.Context) error { panic(&codeError{code: 7}) }

func panicShutdown(context.Context) error { panic(child.ErrShutdown) }

func panicShutdownf(context.Context) error { panic(child.Shutdownf("draining")) }

func panicDeep(context.Context) error { deepHelper(3); return nil }

//go:noinline
func deepHelper(n int) {
	if n == 0 {
		panic("deep")
	}
	deepHelper(n - 1)
}

// runOnce calls child.Run on the calling goroutine and returns the reasons exit
// was called with and whether Run returned.
func runOnce(ctx context.Context, svc child.Service) (reasons []error, returned bool) {
	runner.Run(ctx, svc, func(err error) { reasons = append(reasons, err) })
	return reasons, true
}

// TestRunPanic checks that a panic becomes an abnormal exit carrying the panic
// value and the stack of the panicking function (arbor decisions: panics).
func TestRunPanic(t *testing.T) {
	tests := []struct {
		name      string
		fn        child.Func
		frame     string // function expected in the stack
		runtimeFn bool   // the innermost frame is a runtime function called by frame
		wantValue func(t *testing.T, v any)
		wantMsg   string // Error() must contain it
		check     func(t *testing.T, err error)
	}{
		{
			name:  "string",
			fn:    panicString,
			frame: "runner_test.panicString",
			wantValue: func(t *testing.T, v any) {
				if v != "boom" {
					t.Errorf("Value = %#v, want \"boom\"", v)
				}
			},
			wantMsg: "panic: boom",
			check: func(t *testing.T, err error) {
				if u := errors.Unwrap(err); u != nil {
					t.Errorf("Unwrap = %v, want nil for a non-error value", u)
				}
			},
		},
		{
			name:  "int",
			fn:    panicInt,
			frame: "runner_test.panicInt",
			wantValue: func(t *testing.T, v any) {
				if v != 42 {
					t.Errorf("Value = %#v, want 42", v)
				}
			},
			wantMsg: "panic: 42",
		},
		{
			name:  "error value",
			fn:    panicEOF,
			frame: "runner_test.panicEOF",
			wantValue: func(t *testing.T, v any) {
				if v != io.EOF {
					t.Errorf("Value = %#v, want io.EOF", v)
				}
			},
			wantMsg: "panic: EOF",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, io.EOF) {
					t.Error("errors.Is(err, io.EOF) = false, want true")
				}
				if u := errors.Unwrap(err); u != io.EOF {
					t.Errorf("Unwrap = %v, want io.EOF", u)
				}
			},
		},
		{
			name:  "custom error value",
			fn:    panicCodeError,
			frame: "runner_test.panicCodeError",
			wantValue: func(t *testing.T, v any) {
				if ce, ok := v.(*codeError); !ok || ce.code != 7 {
					t.Errorf("Value = %#v, want *codeError{7}", v)
				}
			},
			wantMsg: "panic: code 7",
			check: func(t *testing.T, err error) {
				var ce *codeError
				if !errors.As(err, &ce) || ce.code != 7 {
					t.Errorf("errors.As(*codeError) = %v, %v; want code 7", ce != nil, ce)
				}
			},
		},
		{
			// Since Go 1.21 panic(nil) panics with *runtime.PanicNilError, so it
			// is a panic like any other and must not be mistaken for Goexit.
			name:  "panic(nil)",
			fn:    panicNil,
			frame: "runner_test.panicNil",
			wantValue: func(t *testing.T, v any) {
				if _, ok := v.(*runtime.PanicNilError); !ok {
					t.Errorf("Value = %T, want *runtime.PanicNilError", v)
				}
			},
			wantMsg: "panic called with nil argument",
			check: func(t *testing.T, err error) {
				if errors.Is(err, child.ErrGoexit) {
					t.Error("panic(nil) reported as ErrGoexit")
				}
				var pn *runtime.PanicNilError
				if !errors.As(err, &pn) {
					t.Error("errors.As(*runtime.PanicNilError) = false, want true")
				}
			},
		},
		{
			name:      "runtime error",
			fn:        panicNilMap,
			frame:     "runner_test.panicNilMap",
			runtimeFn: true,
			wantValue: func(t *testing.T, v any) {
				if _, ok := v.(runtime.Error); !ok {
					t.Errorf("Value = %T, want a runtime.Error", v)
				}
			},
			wantMsg: "assignment to entry in nil map",
			check: func(t *testing.T, err error) {
				var re runtime.Error
				if !errors.As(err, &re) {
					t.Error("errors.As(runtime.Error) = false, want true")
				}
			},
		},
		{
			name:    "deep",
			fn:      panicDeep,
			frame:   "runner_test.deepHelper",
			wantMsg: "panic: deep",
			check: func(t *testing.T, err error) {
				var pe *child.PanicError
				errors.As(err, &pe)
				if n := strings.Count(pe.Stack(), "runner_test.deepHelper\n"); n != 4 {
					t.Errorf("stack has %d deepHelper frames, want 4:\n%s", n, pe.Stack())
				}
				if !strings.Contains(pe.Stack(), "runner_test.panicDeep\n") {
					t.Errorf("stack lacks the Serve function:\n%s", pe.Stack())
				}
			},
		},
		{
			// A panic is a crash even when its value wraps the shutdown
			// sentinel: a transient child that panics must be restarted.
			name:    "panic(ErrShutdown)",
			fn:      panicShutdown,
			frame:   "runner_test.panicShutdown",
			wantMsg: "panic: child: shutdown",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, child.ErrShutdown) {
					t.Error("errors.Is(err, ErrShutdown) = false: Unwrap must still expose the value")
				}
				if child.IsNormal(err) {
					t.Error("IsNormal = true for a panic, want false")
				}
				if !child.Transient.ShouldRestart(child.IsNormal(err)) {
					t.Error("a transient child that panicked is not restarted")
				}
			},
		},
		{
			name:    "panic(Shutdownf)",
			fn:      panicShutdownf,
			frame:   "runner_test.panicShutdownf",
			wantMsg: "draining",
			check: func(t *testing.T, err error) {
				if child.IsNormal(err) {
					t.Error("IsNormal = true for a panic, want false")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reasons, returned := runOnce(context.Background(), tt.fn)
			if !returned {
				t.Fatal("Run did not return after a recovered panic")
			}
			if len(reasons) != 1 {
				t.Fatalf("exit called %d times, want 1", len(reasons))
			}
			err := reasons[0]
			pe, ok := err.(*child.PanicError)
			if !ok {
				t.Fatalf("exit reason = %T %v, want *child.PanicError", err, err)
			}
			var asPE *child.PanicError
			if !errors.As(err, &asPE) || asPE != pe {
				t.Error("errors.As(*child.PanicError) does not find the panic error")
			}
			if tt.wantValue != nil {
				tt.wantValue(t, pe.Value)
			}
			if child.IsNormal(err) {
				t.Error("IsNormal(panic) = true, want false")
			}
			if errors.Is(err, child.ErrGoexit) {
				t.Error("a panic matches ErrGoexit")
			}
			stack := pe.Stack()
			// The innermost frame is the panicking function (or the runtime
			// function it called), not the runtime's panic machinery or Run's
			// deferred recover.
			first, rest, _ := strings.Cut(stack, "\n")
			if tt.runtimeFn {
				if !strings.HasPrefix(first, "runtime.") {
					t.Errorf("first stack frame = %q, want a runtime function", first)
				}
				_, rest, _ = strings.Cut(rest, "\n")
				first, _, _ = strings.Cut(rest, "\n")
			}
			if first != "github.com/arborgo/arbor/internal/"+tt.frame {
				t.Errorf("innermost frame = %q, want the panicking function %q\n%s", first, tt.frame, stack)
			}
			for _, machinery := range []string{"runtime.gopanic", "runner.Run.func", "child.newPanicError", "child.init.func"} {
				if strings.Contains(stack, machinery) {
					t.Errorf("stack contains %s:\n%s", machinery, stack)
				}
			}
			if !strings.Contains(stack, "runner.Run\n") {
				t.Errorf("stack lacks runner.Run:\n%s", stack)
			}
			if !strings.Contains(stack, "runner_test.go:") {
				t.Errorf("stack lacks file:line of this file:\n%s", stack)
			}
			msg := pe.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Error() = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if !strings.Contains(msg, stack) {
				t.Error("Error() does not include the stack")
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

// TestRunReturn checks that a returned error reaches exit unchanged, exactly
// once, and that Serve gets Run's context.
func TestRunReturn(t *testing.T) {
	wrapped := fmt.Errorf("stopping: %w", child.ErrShutdown)
	tests := []struct {
		name string
		err  error
	}{
		{"nil", nil},
		{"ErrShutdown", child.ErrShutdown},
		{"wrapped shutdown", wrapped},
		{"Shutdownf", child.Shutdownf("bye %d", 1)},
		{"ErrIgnore", child.ErrIgnore},
		{"crash", errors.New("disk full")},
		{"context.Canceled", context.Canceled},
		{"returned PanicError", &child.PanicError{Value: "x"}},
	}
	type key struct{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), key{}, tt.name)
			var gotCtx context.Context
			svc := child.Func(func(ctx context.Context) error {
				gotCtx = ctx
				return tt.err
			})
			reasons, returned := runOnce(ctx, svc)
			if !returned {
				t.Fatal("Run did not return")
			}
			if len(reasons) != 1 {
				t.Fatalf("exit called %d times, want 1", len(reasons))
			}
			if reasons[0] != tt.err {
				t.Errorf("exit reason = %#v, want %#v (unchanged)", reasons[0], tt.err)
			}
			if gotCtx == nil || gotCtx.Value(key{}) != tt.name {
				t.Error("Serve did not receive Run's context")
			}
		})
	}
}

// TestRunGoexit checks that runtime.Goexit in Serve still calls exit, once,
// with ErrGoexit, and that Run does not return.
func TestRunGoexit(t *testing.T) {
	tests := []struct {
		name string
		fn   child.Func
	}{
		{"direct", func(context.Context) error { runtime.Goexit(); return nil }},
		{"nested", func(context.Context) error {
			func() { func() { runtime.Goexit() }() }()
			return errors.New("not reached")
		}},
		{"after a recovered panic", func(context.Context) error {
			func() {
				defer func() { _ = recover() }()
				panic("handled")
			}()
			runtime.Goexit()
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				reasons  []error
				returned bool
			}
			done := make(chan result, 1)
			go func() {
				var r result
				defer func() { done <- r }()
				runner.Run(context.Background(), tt.fn, func(err error) { r.reasons = append(r.reasons, err) })
				r.returned = true
			}()
			r := <-done
			if r.returned {
				t.Error("Run returned after runtime.Goexit")
			}
			if len(r.reasons) != 1 {
				t.Fatalf("exit called %d times, want 1: %v", len(r.reasons), r.reasons)
			}
			if r.reasons[0] != child.ErrGoexit {
				t.Errorf("exit reason = %v, want ErrGoexit", r.reasons[0])
			}
			if child.IsNormal(r.reasons[0]) {
				t.Error("IsNormal(ErrGoexit) = true, want false")
			}
		})
	}
}

//go:noinline
func captureHere(skip int) *child.PanicError { return runner.NewPanic("v", skip).(*child.PanicError) }

//go:noinline
func captureViaCaller(skip int) *child.PanicError { return captureHere(skip) }

// TestNewPanicErrorSkip checks the skip argument: 0 starts at the caller of
// NewPanic, each step one frame further out.
func TestNewPanicErrorSkip(t *testing.T) {
	tests := []struct {
		skip  int
		first string
	}{
		{0, "runner_test.captureHere"},
		{1, "runner_test.captureViaCaller"},
		{2, "runner_test.TestNewPanicErrorSkip."}, // the t.Run closure
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.skip), func(t *testing.T) {
			pe := captureViaCaller(tt.skip)
			if pe.Value != "v" {
				t.Errorf("Value = %v, want v", pe.Value)
			}
			first, rest, _ := strings.Cut(pe.Stack(), "\n")
			if !strings.HasPrefix(first, "github.com/arborgo/arbor/internal/"+tt.first) {
				t.Errorf("first frame = %q, want %q", first, tt.first)
			}
			if !strings.HasPrefix(rest, "\t/") || !strings.Contains(rest, ".go:") {
				t.Errorf("frame location = %q, want \"\\t/path/file.go:line\"", rest)
			}
		})
	}
}

// TestPanicErrorZero checks that a PanicError built without a stack still
// formats.
func TestPanicErrorZero(t *testing.T) {
	pe := &child.PanicError{Value: "bare"}
	if pe.Stack() != "" {
		t.Errorf("Stack() = %q, want empty", pe.Stack())
	}
	if got, want := pe.Error(), "panic: bare\n\n"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
