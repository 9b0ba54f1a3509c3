// Package drainend holds the one rule for when a drain ends before a stop
// deadline, shared by child.DrainContext and drain.Pool: early enough for the
// child to return before its supervisor abandons it.
package drainend

import "time"

// MaxMargin caps how long before the stop deadline a drain ends.
const MaxMargin = 100 * time.Millisecond

// Margin returns how long before a deadline a drain ends when left is the
// time left until it: a tenth of it, at most MaxMargin.
func Margin(left time.Duration) time.Duration {
	return min(max(left, 0)/10, MaxMargin)
}

// At returns when a drain that must be over by deadline ends, seen at now.
func At(deadline, now time.Time) time.Time {
	return deadline.Add(-Margin(deadline.Sub(now)))
}
