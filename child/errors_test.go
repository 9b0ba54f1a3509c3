package child_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/arborgo/arbor/child"
)

// TestIsNormal checks the exit-reason table: nil and anything wrapping
// ErrShutdown are normal; everything else, context.Canceled included, is not
// (arbor decisions: why a child exited is never decided by sniffing
// context.Canceled).
func TestIsNormal(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, true},
		{"ErrShutdown", child.ErrShutdown, true},
		{"Shutdownf", child.Shutdownf("reloading %s", "config"), true},
		{"Shutdownf no args", child.Shutdownf("done"), true},
		{"fmt.Errorf %w", fmt.Errorf("serve: %w", child.ErrShutdown), true},
		{"double wrap", fmt.Errorf("a: %w", fmt.Errorf("b: %w", child.Shutdownf("c"))), true},
		{"joined with shutdown", errors.Join(io.EOF, child.ErrShutdown), true},
		{"other error", errors.New("boom"), false},
		{"shutdown text but not wrapped", errors.New(child.ErrShutdown.Error()), false},
		{"fmt.Errorf %v", fmt.Errorf("serve: %v", child.ErrShutdown), false},
		{"context.Canceled", context.Canceled, false},
		{"wrapped context.Canceled", fmt.Errorf("read: %w", context.Canceled), false},
		{"context.DeadlineExceeded", context.DeadlineExceeded, false},
		{"ErrGoexit", child.ErrGoexit, false},
		{"PanicError", &child.PanicError{Value: "x"}, false},
		{"PanicError with shutdown value", &child.PanicError{Value: child.ErrShutdown}, false},
		{"wrapped PanicError with shutdown value", fmt.Errorf("x: %w", &child.PanicError{Value: child.Shutdownf("y")}), false},
		{"SpecError", &child.SpecError{Field: "ID"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := child.IsNormal(tt.err); got != tt.want {
				t.Errorf("IsNormal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestShutdownf(t *testing.T) {
	tests := []struct {
		format string
		args   []any
		want   string
	}{
		{"config reloaded", nil, "child: shutdown: config reloaded"},
		{"port %d closed", []any{8080}, "child: shutdown: port 8080 closed"},
		{"%s/%s", []any{"a", "b"}, "child: shutdown: a/b"},
		{"100%%", nil, "child: shutdown: 100%"},
	}
	for _, tt := range tests {
		err := child.Shutdownf(tt.format, tt.args...)
		if err.Error() != tt.want {
			t.Errorf("Shutdownf(%q) = %q, want %q", tt.format, err, tt.want)
		}
		if !errors.Is(err, child.ErrShutdown) {
			t.Errorf("Shutdownf(%q) does not wrap ErrShutdown", tt.format)
		}
		if errors.Unwrap(err) != child.ErrShutdown {
			t.Errorf("Unwrap(Shutdownf(%q)) = %v, want ErrShutdown", tt.format, errors.Unwrap(err))
		}
	}
	// A wrapped argument error is carried as text, not as a second chain.
	err := child.Shutdownf("cause: %v", io.EOF)
	if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("Shutdownf with %%v arg = %v: want EOF in text only", err)
	}
}

func TestSentinelsDistinct(t *testing.T) {
	sentinels := []error{child.ErrShutdown, child.ErrIgnore, child.ErrGoexit, child.ErrInvalidSpec}
	for i, a := range sentinels {
		if !strings.HasPrefix(a.Error(), "child: ") {
			t.Errorf("sentinel %q lacks the package prefix", a)
		}
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}
