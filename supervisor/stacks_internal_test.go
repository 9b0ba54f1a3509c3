package supervisor

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/internal/goroutines"
)

// waiting reports whether a second goroutine (beside the taker) is in
// sharedProfile: the waiter.
func waiting() bool {
	return strings.Count(string(goroutineDump()), "supervisor.sharedProfile(") >= 2
}

func goroutineDump() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}

// A report that waits for a profile another report is taking gets that
// profile, even when a third report, cut later, has begun a newer one
// meanwhile (a nil profile made the loop panic).
func TestSharedProfileWaiterGetsItsProfile(t *testing.T) {
	real := takeProfile
	defer func() { takeProfile = real }()
	entered := make(chan struct{}, 2)
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	calls := 0
	takeProfile = func() *goroutines.Profile {
		k := calls
		calls++
		entered <- struct{}{}
		<-release[k]
		return real()
	}
	a := make(chan *goroutines.Profile, 1)
	cutA := time.Now()
	go func() { a <- sharedProfile(cutA) }() // takes profile 1
	<-entered
	w := make(chan *goroutines.Profile, 1)
	go func() { w <- sharedProfile(cutA) }() // waits for profile 1
	// The waiter finds profile 1 in flight (most often: it asks before
	// the later report below); whichever it waits for, it must get it.
	for i := 0; i < 100 && !waiting(); i++ {
		time.Sleep(time.Millisecond) // a bounded poll: there is no event to wait on
	}
	b := make(chan *goroutines.Profile, 1)
	go func() { b <- sharedProfile(time.Now().Add(time.Hour)) }() // cut later: takes profile 2
	<-entered
	close(release[0])
	if p := <-a; p == nil {
		t.Fatal("the taker got no profile")
	}
	close(release[1]) // the waiter may have found either take in flight
	if p := <-w; p == nil {
		t.Fatal("the waiter got no profile")
	}
	if p := <-b; p == nil {
		t.Fatal("the later taker got no profile")
	}
}
