package supervisor

import (
	"time"

	"github.com/arborgo/arbor/internal/goroutines"
)

// CountProfiles makes every goroutine profile the supervisors take for
// abandoned children count, and returns the count so far and a function that
// restores the real profiler.
func CountProfiles() (count func() int, restore func()) {
	real := takeStacks
	n := make(chan int, 1)
	n <- 0
	takeStacks = func(tree string, since time.Time) func(string) string {
		n <- <-n + 1
		return real(tree, since)
	}
	return func() int { v := <-n; n <- v; return v }, func() { takeStacks = real }
}

// CountTakenProfiles counts the goroutine profiles actually taken for
// abandonment reports (shared ones once), until restore is called.
func CountTakenProfiles() (count func() int, restore func()) {
	real := takeProfile
	n := make(chan int, 1)
	n <- 0
	takeProfile = func() *goroutines.Profile {
		n <- <-n + 1
		return real()
	}
	return func() int { v := <-n; n <- v; return v }, func() { takeProfile = real }
}
