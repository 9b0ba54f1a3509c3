package health

import (
	"sync"
	"time"

	"github.com/arborgo/arbor/supervisor"
)

// Announcement is a shutdown asked for: the news, from the code that stops a
// tree to the code that shows it, that its shutdown has begun and by when it
// must be over. daemon.Run announces it at the first signal, before any
// shutdown delay; the tree page (package treeview) shows the time left. A
// supervisor knows that it is stopping, but not of a shutdown delay before
// the Stop; code of your own that stops a tree announces it the same way.
type Announcement struct {
	Began    time.Time // when it was asked for
	Deadline time.Time // when the whole shutdown must be over
}

var announced struct {
	mu sync.Mutex
	m  map[*supervisor.Supervisor]Announcement // guarded by mu
}

// AnnounceShutdown records a for the tree whose root is root,
// until undo is called. A later announcement for the same root replaces it.
func AnnounceShutdown(root *supervisor.Supervisor, a Announcement) (undo func()) {
	announced.mu.Lock()
	defer announced.mu.Unlock()
	if announced.m == nil {
		announced.m = make(map[*supervisor.Supervisor]Announcement)
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

// AnnouncedShutdown returns the announcement for root, if there is one.
func AnnouncedShutdown(root *supervisor.Supervisor) (Announcement, bool) {
	announced.mu.Lock()
	defer announced.mu.Unlock()
	a, ok := announced.m[root]
	return a, ok
}
