package shutdown

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAnnounce(t *testing.T) {
	root, other := new(int), new(int)
	now := time.Now()
	a := Announcement{Began: now, Deadline: now.Add(time.Second)}
	undo := Announce(root, a)
	if got, ok := Lookup(root); !ok || got != a {
		t.Errorf("Lookup = %v, %v; want %v", got, ok, a)
	}
	if _, ok := Lookup(other); ok {
		t.Error("another root is announced")
	}
	b := Announcement{Began: now, Deadline: now.Add(2 * time.Second)}
	undoB := Announce(root, b)
	undo() // replaced: does not remove b
	if got, _ := Lookup(root); got != b {
		t.Errorf("Lookup after a replaced undo = %v, want %v", got, b)
	}
	undoB()
	undoB()
	if _, ok := Lookup(root); ok {
		t.Error("still announced after undo")
	}
}
