// Package escalation keeps a supervisor's restart intensity: at most
// MaxRestarts restarts within Period, as OTP's intensity and period flags.
//
// A [Window] records restart events with the time they happened, passed in by
// the caller, so it needs no clock and is tested with plain timestamps. Past the
// limit the supervisor gives up: it stops its children and returns an error
// matching [ErrExceeded], which its own parent sees as that child failing. That
// is escalation.
//
// # Boundary
//
// Durations are exact (OTP rounds to whole seconds) and the boundary is
// inclusive: an event exactly Period old still counts. The supervisor gives up
// on restart MaxRestarts+1 inside the window, before attempting it, so
// MaxRestarts 0 means "never restart".
package escalation

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrExceeded is the reason a supervisor gives up: more than MaxRestarts
// restarts happened within Period.
var ErrExceeded = errors.New("escalation: restart intensity exceeded")

// ErrInvalidIntensity matches every error returned by [Intensity.Validate].
var ErrInvalidIntensity = errors.New("escalation: invalid intensity")

// Intensity is the most restarts a supervisor allows within a period.
type Intensity struct {
	// MaxRestarts is how many restarts Period may hold; 0 means never restart.
	MaxRestarts int
	// Period is the length of the sliding window; it must be positive.
	Period time.Duration
}

// Default is OTP's default intensity: 1 restart in 5 seconds.
var Default = Intensity{MaxRestarts: 1, Period: 5 * time.Second}

// Validate reports a negative MaxRestarts or a non-positive Period.
func (i Intensity) Validate() error {
	if i.MaxRestarts < 0 {
		return fmt.Errorf("%w: MaxRestarts = %d: must be 0 or more", ErrInvalidIntensity, i.MaxRestarts)
	}
	if i.Period <= 0 {
		return fmt.Errorf("%w: Period = %v: must be positive", ErrInvalidIntensity, i.Period)
	}
	return nil
}

// String returns a description such as "1 in 5s".
func (i Intensity) String() string { return fmt.Sprintf("%d in %v", i.MaxRestarts, i.Period) }

// Window counts restart events in a sliding window. It is a ring of the
// times still inside the window, oldest first, each with how many events
// happened then, trimmed from the old end, so recording costs O(1) amortised
// however many restarts the window holds. It holds at most MaxRestarts+1
// events, and, when MaxRestarts is [MaxTimes] or more, events less than
// Period/MaxTimes apart share one slot and leave the window with the newest
// of them, so it holds at most about MaxTimes slots: those events stay in
// the window up to Period/MaxTimes longer, never shorter (the window may
// give up sooner than an exact count would, never later), and its memory
// stays bounded whatever MaxRestarts is. Below MaxTimes it is exact.
//
// A Window is not safe for concurrent use; a supervisor's run goroutine owns it.
type Window struct {
	limit  Intensity
	ring   []slot // len is a power of two, or 0 before the first event
	head   int    // index of the oldest slot
	length int    // slots held
	count  int    // events held: the sum of the slots' n
}

// MaxTimes is the intensity from which a [Window] groups events close in
// time, to keep its memory bounded: about MaxTimes slots at most.
const MaxTimes = 4096

// slot is one time of the window and the events recorded at it: at t, or,
// past MaxTimes, from first to t.
type slot struct {
	first time.Time
	t     time.Time
	n     int
}

// NewWindow returns an empty window for limit, which should be valid.
func NewWindow(limit Intensity) *Window { return &Window{limit: limit} }

// Intensity returns the limit w enforces.
func (w *Window) Intensity() Intensity { return w.limit }

// Record adds a restart event at now and reports whether it is within the
// limit. False means the supervisor must give up without attempting the
// restart. Times must not go backwards; a time before the newest recorded one
// is treated as equal to it.
func (w *Window) Record(now time.Time) bool {
	// Clamp before trimming: with MaxRestarts 0 the trim empties the ring,
	// which would lose the newest time.
	now = w.clamp(now)
	w.trim(now)
	w.push(now)
	return w.count <= w.limit.MaxRestarts
}

// Allows reports whether Record(now) would return true, without recording.
func (w *Window) Allows(now time.Time) bool {
	return w.Len(w.clamp(now))+1 <= w.limit.MaxRestarts
}

// clamp returns now, or the newest recorded time if now is before it.
func (w *Window) clamp(now time.Time) time.Time {
	if w.length > 0 {
		if newest := w.at(w.length - 1).t; now.Before(newest) {
			return newest
		}
	}
	return now
}

// Len returns how many recorded events are still inside the window at now,
// counting at most MaxRestarts+1, the most a window keeps. It does not change w.
func (w *Window) Len(now time.Time) int {
	cutoff := now.Add(-w.limit.Period)
	// The ring is oldest first: find the first time not before cutoff.
	first := sort.Search(w.length, func(i int) bool { return !w.at(i).t.Before(cutoff) })
	n := 0
	for i := first; i < w.length; i++ {
		n += w.at(i).n
	}
	return n
}

// Reset forgets every recorded event.
func (w *Window) Reset() {
	clear(w.ring)
	w.head, w.length, w.count = 0, 0, 0
}

// trim drops events older than Period; an event exactly Period old is kept.
func (w *Window) trim(now time.Time) {
	cutoff := now.Add(-w.limit.Period)
	for w.length > 0 && w.ring[w.head].t.Before(cutoff) {
		w.dropOldest()
	}
	// Keep only MaxRestarts+1 events: older ones can never change a verdict,
	// since a verdict only needs to know whether more than MaxRestarts remain.
	for w.count > w.limit.MaxRestarts {
		if w.ring[w.head].n > 1 {
			w.ring[w.head].n--
			w.count--
			continue
		}
		w.dropOldest()
	}
}

func (w *Window) dropOldest() {
	w.count -= w.ring[w.head].n
	w.ring[w.head] = slot{}
	w.head = (w.head + 1) & (len(w.ring) - 1)
	w.length--
}

func (w *Window) at(i int) slot { return w.ring[(w.head+i)&(len(w.ring)-1)] }

func (w *Window) push(t time.Time) {
	w.count++
	if w.length > 0 {
		last := &w.ring[(w.head+w.length-1)&(len(w.ring)-1)]
		// The same time; or, when the window may hold more events than
		// MaxTimes, a time within Period/MaxTimes of the slot's first: the
		// slot's events then leave the window with its newest one.
		if last.t.Equal(t) || (w.limit.MaxRestarts >= MaxTimes && t.Sub(last.first) < w.limit.Period/MaxTimes) {
			last.t = t
			last.n++
			return
		}
	}
	if w.length == len(w.ring) {
		n := max(4, 2*len(w.ring))
		ring := make([]slot, n)
		for i := range w.length {
			ring[i] = w.at(i)
		}
		w.ring, w.head = ring, 0
	}
	w.ring[(w.head+w.length)&(len(w.ring)-1)] = slot{first: t, t: t, n: 1}
	w.length++
}
