package child_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/control"
	"github.com/arborgo/arbor/internal/runner"
)

// fakeControl records the calls a child makes through the package functions.
type fakeControl struct {
	mu       sync.Mutex
	ready    int
	deadline time.Time
	stopping bool
	path     string
}

func (c *fakeControl) Ready() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready++
}

func (c *fakeControl) StopDeadline() (time.Time, bool) { return c.deadline, c.stopping }

func (c *fakeControl) Path() string { return c.path }

func (c *fakeControl) readyCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

func TestControlWithout(t *testing.T) {
	type key struct{}
	for name, ctx := range map[string]context.Context{
		"background":  context.Background(),
		"with value":  context.WithValue(context.Background(), key{}, "v"),
		"nil control": control.With(context.Background(), nil),
	} {
		t.Run(name, func(t *testing.T) {
			child.Ready(ctx) // must not panic
			if d, ok := child.StopDeadline(ctx); ok || !d.IsZero() {
				t.Errorf("StopDeadline = %v, %v; want zero, false", d, ok)
			}
			if p := child.Path(ctx); p != "" {
				t.Errorf("Path = %q, want empty", p)
			}
		})
	}
}

func TestControlWith(t *testing.T) {
	deadline := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		fake     *fakeControl
		wantOK   bool
		wantTime time.Time
	}{
		{"running", &fakeControl{path: "root/db/pool"}, false, time.Time{}},
		{"stopping with budget", &fakeControl{path: "root/db", deadline: deadline, stopping: true}, true, deadline},
		{"stopping unbounded", &fakeControl{path: "root"}, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := control.With(context.Background(), tt.fake)
			// The control is found through derived contexts too.
			ctx, cancel := context.WithCancel(base)
			defer cancel()
			if got := child.Path(ctx); got != tt.fake.path {
				t.Errorf("Path = %q, want %q", got, tt.fake.path)
			}
			d, ok := child.StopDeadline(ctx)
			if ok != tt.wantOK || !d.Equal(tt.wantTime) {
				t.Errorf("StopDeadline = %v, %v; want %v, %v", d, ok, tt.wantTime, tt.wantOK)
			}
			child.Ready(ctx)
			child.Ready(base)
			if n := tt.fake.readyCalls(); n != 2 {
				t.Errorf("Ready reached the control %d times, want 2", n)
			}
		})
	}
}

func TestControlInnermostWins(t *testing.T) {
	outer := &fakeControl{path: "root"}
	inner := &fakeControl{path: "root/sub"}
	ctx := control.With(control.With(context.Background(), outer), inner)
	child.Ready(ctx)
	if got := child.Path(ctx); got != "root/sub" {
		t.Errorf("Path = %q, want root/sub", got)
	}
	if outer.readyCalls() != 0 || inner.readyCalls() != 1 {
		t.Errorf("Ready calls: outer %d, inner %d; want 0, 1", outer.readyCalls(), inner.readyCalls())
	}
}

// TestControlFromServe checks the functions from inside a running child, on
// another goroutine, as a supervisor would use them.
func TestControlFromServe(t *testing.T) {
	fake := &fakeControl{path: "root/w"}
	ctx := control.With(context.Background(), fake)
	done := make(chan error, 1)
	go runner.Run(ctx, child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		if child.Path(ctx) != "root/w" {
			return child.Shutdownf("wrong path %q", child.Path(ctx))
		}
		return nil
	}), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fake.readyCalls() != 1 {
		t.Errorf("Ready calls = %d, want 1", fake.readyCalls())
	}
}
