package supervisor

import "time"

// Clock is where a supervisor reads the time and waits for it: restart
// windows, backoff delays, start and shutdown budgets. Its methods use only
// standard types, so a fake needs no imports; supervisortest.Clock is one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// TimerClock is a [Clock] whose timers can be stopped. A supervisor whose
// clock has NewTimer stops each timer it no longer waits on (a start or stop
// budget that did not run out, a backoff timer replaced by an earlier one), so
// that a fake clock holds only the timers that matter; supervisortest.Clock
// is one.
type TimerClock interface {
	Clock
	// NewTimer returns a channel that receives the time once d has passed,
	// and a function that stops the timer and reports whether it was pending.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// newTimer returns a channel that receives the time once d has passed on c,
// and a function that stops the timer: c's own with a [TimerClock], else one
// that does nothing and reports false.
func newTimer(c Clock, d time.Duration) (<-chan time.Time, func() bool) {
	if tc, ok := c.(TimerClock); ok {
		return tc.NewTimer(d)
	}
	return c.After(d), func() bool { return false }
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
