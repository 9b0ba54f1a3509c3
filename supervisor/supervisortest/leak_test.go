package supervisortest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// fakeT records what FailOnLeak reports.
type fakeT struct {
	mu     sync.Mutex
	errors []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// leftRunning is the goroutine a leaky child leaves behind. It closes
// running first: a goroutine not yet scheduled shows no frame of its own in
// a goroutine profile, so the child waits for it before returning.
func leftRunning(release <-chan struct{}, running chan<- struct{}) {
	close(running)
	<-release
}

func TestFailOnLeak(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := &fakeT{}
	clock := supervisortest.NewClock(time.Unix(0, 0))
	rec := supervisortest.NewRecorder()
	leaky := child.Func(func(ctx context.Context) error {
		running := make(chan struct{})
		go leftRunning(release, running)
		<-running
		return nil
	})
	s, err := supervisor.New("root", []child.Spec{{ID: "leaky", Service: leaky, Restart: child.Temporary}},
		supervisor.WithClock(clock), supervisor.WithLeakCheck(time.Second),
		supervisor.WithHook(supervisortest.FailOnLeak(ft)), supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := rec.WaitFor(ctx, supervisor.ChildLeaked, "leaky"); err != nil {
		t.Fatal(err)
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "leftRunning") || !strings.Contains(ft.errors[0], `"leaky"`) {
		t.Fatalf("FailOnLeak reported %q, want one failure naming leaky with the stack", ft.errors)
	}
}
