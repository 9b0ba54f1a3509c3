package drain_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/drain"
	"github.com/arborgo/arbor/supervisor"
)

// A pool of two workers as a child: what was queued before the stop is
// worked on before Stop returns, and a push after it is refused.
func Example() {
	var (
		mu   sync.Mutex
		done []string
	)
	pool := &drain.Pool[string]{
		Workers:  2,
		Capacity: 8,
		Work: func(ctx context.Context, s string) {
			mu.Lock()
			defer mu.Unlock()
			done = append(done, s)
		},
	}
	sup, err := supervisor.New("app", []child.Spec{
		{ID: "workers", Service: pool, AwaitReady: true, Shutdown: 10 * time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := sup.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := pool.Push(ctx, s); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("stop:", sup.Stop(ctx))
	fmt.Println("push after the stop:", pool.Push(ctx, "d"))
	slices.Sort(done)
	fmt.Println("worked on:", done)
	// Output:
	// stop: <nil>
	// push after the stop: drain: queue closed
	// worked on: [a b c]
}
