// Package shutdown carries, from the code that stops a tree to the code that
// shows it, the news that a tree's shutdown has been asked for and by when it
// must be over: daemon.Run announces it at the first signal; the tree page
// shows the time left. A supervisor knows that it is stopping, but not the
// deadline its caller gave Stop, nor of a shutdown delay before the Stop.
package shutdown

import (
	"sync"
	"time"
)

// Announcement is a shutdown asked for.
type Announcement struct {
	Began    time.Time // when it was asked for
	Deadline time.Time // when the whole shutdown must be over
}

var announced struct {
	mu sync.Mutex
	m  map[any]Announcement // guarded by mu
}

// Announce records a for the tree whose root is root (a *supervisor.Supervisor),
// until undo is called. A later announcement for the same root replaces it.
func Announce(root any, a Announcement) (undo func()) {
	announced.mu.Lock()
	defer announced.mu.Unlock()
	if announced.m == nil {
		announced.m = make(map[any]Announcement)
	}
	announced.m[root] = a
	var once sync.Once
	return func() {
		once.Do(func() {
			announced.mu.Lock()
			defer announced.mu.Unlock()
			if announced.m[root] == a {
				delete(announced.m, root)
			}
		})
	}
}

// Lookup returns the announcement for root, if there is one.
func Lookup(root any) (Announcement, bool) {
	announced.mu.Lock()
	defer announced.mu.Unlock()
	a, ok := announced.m[root]
	return a, ok
}
