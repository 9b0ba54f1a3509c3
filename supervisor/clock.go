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

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
