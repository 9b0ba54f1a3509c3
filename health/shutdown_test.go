package health_test

import (
	"testing"
	"time"

	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
)

func TestAnnounce(t *testing.T) {
	root, other := new(supervisor.Supervisor), new(supervisor.Supervisor)
	now := time.Now()
	a := health.Announcement{Began: now, Deadline: now.Add(time.Second)}
	undo := health.AnnounceShutdown(root, a)
	if got, ok := health.AnnouncedShutdown(root); !ok || got != a {
		t.Errorf("Lookup = %v, %v; want %v", got, ok, a)
	}
	if _, ok := health.AnnouncedShutdown(other); ok {
		t.Error("another root is announced")
	}
	b := health.Announcement{Began: now, Deadline: now.Add(2 * time.Second)}
	undoB := health.AnnounceShutdown(root, b)
	undo() // replaced: does not remove b
	if got, _ := health.AnnouncedShutdown(root); got != b {
		t.Errorf("Lookup after a replaced undo = %v, want %v", got, b)
	}
	undoB()
	undoB()
	if _, ok := health.AnnouncedShutdown(root); ok {
		t.Error("still announced after undo")
	}
}
