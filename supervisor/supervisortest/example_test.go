package supervisortest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// A Clock moves only when told. WaitForWaiters tells a test that the code
// under test is waiting on the clock, so advancing it is not a race.
func ExampleClock() {
	ctx := context.Background()
	clock := supervisortest.NewClock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))

	fired := make(chan time.Time)
	go func() { fired <- <-clock.After(10 * time.Second) }() // ends once the timer fires

	_ = clock.WaitForWaiters(ctx, 1)
	clock.Advance(9 * time.Second)
	fmt.Println("pending after 9s:", clock.Waiters())
	clock.Advance(time.Second)
	fmt.Println("fired at:", (<-fired).Format(time.TimeOnly))
	fmt.Println("pending:", clock.Waiters())
	// Output:
	// pending after 9s: 1
	// fired at: 00:00:10
	// pending: 0
}

// A Recorder keeps a supervisor's events in order and waits for one, so a
// test synchronises on what happened instead of sleeping.
func ExampleRecorder() {
	ctx := context.Background()
	done := make(chan error)
	job := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return nil
		}
	})
	rec := supervisortest.NewRecorder()
	root, err := supervisor.New("app", []child.Spec{
		{ID: "job", Service: job, AwaitReady: true, Restart: child.Transient},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	done <- nil // a transient child that ends normally is not restarted
	ev, _ := rec.WaitFor(ctx, supervisor.ChildExited, "job")
	fmt.Println(ev.Kind, ev.Child, "restarted:", ev.Restarted)

	fmt.Println("Stop:", root.Stop(ctx))
	_, _ = rec.WaitFor(ctx, supervisor.SupervisorStopped, "")
	for _, ev := range rec.Events() {
		if ev.Child == "" {
			fmt.Println(ev.Kind) // a supervisor event
			continue
		}
		fmt.Println(ev.Kind, ev.Child)
	}
	fmt.Println("child_started events:", rec.Count(supervisor.ChildStarted, "job"))
	// Output:
	// child_exited job restarted: false
	// Stop: <nil>
	// child_started job
	// supervisor_ready
	// child_exited job
	// supervisor_stopped
	// child_started events: 1
}
