package supervisortest

import (
	"context"
	"fmt"
	"sync"

	"github.com/arborgo/arbor/supervisor"
)

// Recorder keeps every event a supervisor reports. Pass [Recorder.Hook] to
// supervisor.WithHook. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	events  []supervisor.Event // guarded by mu
	changed chan struct{}      // guarded by mu: closed and replaced on each event
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Hook returns the hook that records events.
func (r *Recorder) Hook() supervisor.Hook {
	return func(ev supervisor.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// Events returns a copy of the events recorded so far, in order.
func (r *Recorder) Events() []supervisor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]supervisor.Event(nil), r.events...)
}

// Match reports whether ev has kind k and, if child is not empty, that child.
func Match(ev supervisor.Event, k supervisor.EventKind, child string) bool {
	return ev.Kind == k && (child == "" || ev.Child == child)
}

// WaitFor blocks until an event of kind k for child (any child if empty) has
// been recorded, counting from the first event, and returns the first such
// event.
func (r *Recorder) WaitFor(ctx context.Context, k supervisor.EventKind, child string) (supervisor.Event, error) {
	return r.WaitForNth(ctx, k, child, 1)
}

// WaitForNth is [Recorder.WaitFor] for the nth matching event (n ≥ 1).
func (r *Recorder) WaitForNth(ctx context.Context, k supervisor.EventKind, child string, n int) (supervisor.Event, error) {
	for {
		r.mu.Lock()
		seen := 0
		for _, ev := range r.events {
			if Match(ev, k, child) {
				seen++
				if seen == n {
					r.mu.Unlock()
					return ev, nil
				}
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return supervisor.Event{}, fmt.Errorf("supervisortest: waiting for event %v %q #%d: %w", k, child, n, ctx.Err())
		}
	}
}

// Count returns how many recorded events have kind k for child (any child if empty).
func (r *Recorder) Count(k supervisor.EventKind, child string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if Match(ev, k, child) {
			n++
		}
	}
	return n
}
