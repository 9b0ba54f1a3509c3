package child

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/arborgo/arbor/internal/runner"
)

var (
	// ErrShutdown is the orderly-stop reason (OTP's shutdown). A child that
	// returns it, or an error wrapping it, exits normally: a transient child is
	// not restarted. Wrap it to carry a detail, as [Shutdownf] does.
	ErrShutdown = errors.New("child: shutdown")

	// ErrIgnore, returned by Serve before the child reports ready, declines the
	// start (OTP's ignore): the start counts as a success with nothing running.
	ErrIgnore = errors.New("child: start ignored")

	// ErrGoexit is the exit reason of a child that called runtime.Goexit.
	ErrGoexit = runner.ErrGoexit

	// ErrInvalidSpec matches every [*SpecError].
	ErrInvalidSpec = errors.New("child: invalid spec")
)

// Shutdownf returns an error that wraps [ErrShutdown] with a detail, so the
// child exits normally with a reason (OTP's {shutdown, Term}).
func Shutdownf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrShutdown, fmt.Sprintf(format, args...))
}

// IsNormal reports whether err is a normal exit reason: nil, or an error that
// wraps [ErrShutdown]. A recovered panic is never normal, even when the panic
// value wraps ErrShutdown: an error holding a [*PanicError] is abnormal. So is
// an error holding an [Abnormal] error, such as a supervisor's give-up error
// that wraps its child's last (possibly normal) reason.
func IsNormal(err error) bool {
	if err == nil {
		return true
	}
	// One walk of the error tree, without the allocations of errors.As: this
	// runs on every exit.
	shutdown := false
	abnormal := walk(err, func(e error) bool {
		switch x := e.(type) {
		case *PanicError:
			return true
		case Abnormal:
			if x.AbnormalExit() {
				return true
			}
		}
		if e == ErrShutdown {
			shutdown = true
		} else if is, ok := e.(interface{ Is(error) bool }); ok && is.Is(ErrShutdown) {
			shutdown = true
		}
		return false
	})
	return !abnormal && shutdown
}

// walk calls f for err and every error it wraps, depth first, until f
// returns true; it reports whether f did.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// IsPanic reports whether err holds a [*PanicError] or is [ErrGoexit]: a
// child that did not return normally from Serve. It does not allocate.
func IsPanic(err error) bool {
	return walk(err, func(e error) bool {
		_, ok := e.(*PanicError)
		return ok || e == ErrGoexit
	})
}

// Abnormal is implemented by errors that make an exit abnormal whatever they
// wrap. IsNormal checks for it.
type Abnormal interface {
	error
	// AbnormalExit reports whether the exit is abnormal.
	AbnormalExit() bool
}

// SpecError reports one invalid field of a [Spec]. It matches [ErrInvalidSpec].
type SpecError struct {
	ID     string // the spec's ID, if known
	Field  string // the Go field name, such as "Shutdown"
	Value  any    // the offending value
	Reason string // what is wrong with it
}

// Error describes the field, the bad value and the problem.
func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString("child: invalid spec")
	if e.ID != "" {
		fmt.Fprintf(&b, " %q", e.ID)
	}
	fmt.Fprintf(&b, ": field %s = %s: %s", e.Field, formatValue(e.Value), e.Reason)
	return b.String()
}

// formatValue prints a bad value as it is written in Go: a duration as a
// duration ("-1s"), an enum by its name, a string quoted.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%#v", v)
}

// Is makes a SpecError match [ErrInvalidSpec].
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// PanicError is a recovered panic: the value passed to panic and where it
// happened. The stack is captured cheaply as program counters and formatted
// only when [PanicError.Stack] or [PanicError.Error] is called.
type PanicError struct {
	// Value is the value the child passed to panic.
	Value any
	pcs   []uintptr
}

func init() {
	runner.NewPanic = func(value any, skip int) error { return newPanicError(value, skip+1) }
}

// newPanicError captures the caller's stack for value, skipping skip frames
// above its caller. The runner uses it from its deferred recover.
func newPanicError(value any, skip int) *PanicError {
	var buf [64]uintptr
	n := runtime.Callers(skip+2, buf[:])
	pcs := make([]uintptr, n)
	copy(pcs, buf[:n])
	return &PanicError{Value: value, pcs: pcs}
}

// Error returns the panic value followed by the formatted stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack())
}

// Unwrap returns the panic value if it is an error, so errors.Is and errors.As
// see through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Stack formats the captured stack, innermost frame first, one "function\n\tfile:line" pair per frame.
func (e *PanicError) Stack() string {
	var b strings.Builder
	frames := runtime.CallersFrames(e.pcs)
	for {
		f, more := frames.Next()
		if f.Function != "" || f.File != "" {
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
		}
		if !more {
			break
		}
	}
	return b.String()
}
