package supervisortest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/arborgo/arbor/supervisor"
)

// Clock is a fake [supervisor.Clock]: its time moves only through
// [Clock.Advance]. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time // guarded by mu
	waiters []waiter  // guarded by mu: pending After channels
	changed chan struct{}
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

var _ supervisor.TimerClock = (*Clock)(nil)

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has been
// advanced by d or more. A d of zero or less fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), c: ch})
	c.notifyLocked()
	return ch
}

// NewTimer is [Clock.After] with a function that stops the timer: a stopped
// timer never fires and no longer counts in [Clock.Waiters]. The function
// reports whether the timer was still pending.
func (c *Clock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	ch := c.After(d)
	return ch, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, w := range c.waiters {
			if w.c == ch {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				c.notifyLocked()
				return true
			}
		}
		return false
	}
}

// Advance moves the clock forward by d and fires every timer that is due, in
// order of due time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.c <- c.now
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
	c.notifyLocked()
}

// Waiters returns how many timers are pending: made by After or NewTimer,
// not yet fired and not stopped.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// WaitForWaiters blocks until at least n timers are pending, so a test can
// advance the clock knowing the code under test is waiting on it.
func (c *Clock) WaitForWaiters(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.waiters) >= n {
			c.mu.Unlock()
			return nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
