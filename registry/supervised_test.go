package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/registry"
	"github.com/arborgo/arbor/supervisor"
)

var errBoom = errors.New("boom")

// A supervised child registers itself before it reports ready; it is
// crashed at a high rate. Once the supervisor has handled an exit (its
// ChildExited event), no lookup returns that incarnation, and every
// replacement registers the same name without an ErrTaken race.
func TestSupervisedRestartsNeverServeStaleEntry(t *testing.T) {
	const restarts = 2000
	var (
		reg       registry.Registry[int64]
		next      atomic.Int64
		handled   atomic.Int64 // highest incarnation whose exit the supervisor handled
		crash     = make(chan struct{})
		readyC    = make(chan int64, 1)
		failures  atomic.Int64
		failMu    sync.Mutex
		firstFail string
	)
	fail := func(msg string) {
		failures.Add(1)
		failMu.Lock()
		if firstFail == "" {
			firstFail = msg
		}
		failMu.Unlock()
	}
	svc := child.Func(func(ctx context.Context) error {
		n := next.Add(1)
		if err := reg.Register(ctx, "svc", n); err != nil {
			fail("register: " + err.Error())
			return err
		}
		child.Ready(ctx)
		select {
		case readyC <- n:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-crash:
			return errBoom
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	hook := func(ev supervisor.Event) {
		if ev.Kind != supervisor.ChildExited {
			return
		}
		// The exit of the incarnation registered as handled+1 has been handled.
		h := handled.Add(1)
		if v, ok := reg.Lookup("svc"); ok && v <= h {
			fail("stale entry returned after its exit was handled")
		}
	}
	sup, err := supervisor.New("root", []child.Spec{{ID: "svc", Service: svc, AwaitReady: true}},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: restarts + 1, Period: time.Hour}),
		supervisor.WithHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Readers: every value they see is newer than the exits handled before the lookup.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	stopReaders := sync.OnceFunc(func() { close(stop); readers.Wait() })
	// On a failure too, nothing of this test outlives it.
	defer func() {
		stopReaders()
		_ = sup.Stop(context.Background())
	}()
	for range 2 {
		readers.Add(1)
		// Ends when stop is closed.
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := handled.Load()
				if v, ok := reg.Lookup("svc"); ok && v <= before {
					fail("reader saw an incarnation whose exit was already handled")
				}
			}
		}()
	}
	for i := 0; i < restarts; i++ {
		select {
		case <-readyC:
		case <-ctx.Done():
			t.Fatalf("incarnation %d never became ready", i+1)
		}
		crash <- struct{}{}
	}
	<-readyC
	stopReaders()
	if err := sup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d failures; first: %s", n, firstFail)
	}
	if _, ok := reg.Lookup("svc"); ok {
		t.Fatal("name still registered after the supervisor stopped")
	}
}
