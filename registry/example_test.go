package registry_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/arborgo/arbor/registry"
)

// A child registers its value for the lifetime of its context; others look
// it up by name.
func ExampleRegistry() {
	var reg registry.Registry[string]

	// The context of one child incarnation, as given to its Serve.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := reg.Register(ctx, "db", "conn-1"); err != nil {
		fmt.Println(err)
		return
	}

	v, ok := reg.Lookup("db")
	fmt.Println(v, ok)
	fmt.Println(reg.Names())

	cancel() // the incarnation ends: its name is gone at once
	_, ok = reg.Lookup("db")
	fmt.Println(ok)
	// Output:
	// conn-1 true
	// [db]
	// false
}

// A dependant waiting for a name rides through a restart of its holder.
func ExampleRegistry_Wait() {
	var reg registry.Registry[string]

	first, stopFirst := context.WithCancel(context.Background())
	defer stopFirst()
	if err := reg.Register(first, "db", "conn-1"); err != nil {
		fmt.Println(err)
		return
	}
	// The first incarnation crashes; the supervisor cancels its context
	// before restarting it.
	stopFirst()

	got := make(chan string)
	go func() {
		v, err := reg.Wait(context.Background(), "db")
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()

	// The replacement registers the same name.
	second, stopSecond := context.WithCancel(context.Background())
	defer stopSecond()
	if err := reg.Register(second, "db", "conn-2"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-got)
	// Output:
	// conn-2
}

// Wait gives up when its own context is done.
func ExampleRegistry_Wait_cancelled() {
	var reg registry.Registry[string]

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // or a deadline that expires while waiting
	_, err := reg.Wait(ctx, "db")
	fmt.Println(errors.Is(err, context.Canceled))
	// Output:
	// true
}

// Registering a name held by a live entry fails and tells who holds it,
// like OTP's {error, {already_started, Pid}}.
func ExampleTakenError() {
	var reg registry.Registry[string]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if err := reg.Register(ctx, "db", "conn-1"); err != nil {
		fmt.Println(err)
		return
	}
	err := reg.Register(ctx, "db", "conn-2")
	fmt.Println(err)
	fmt.Println(errors.Is(err, registry.ErrTaken))

	var taken *registry.TakenError[string]
	if errors.As(err, &taken) {
		fmt.Println("held by", taken.Holder)
	}
	// Output:
	// registry: name "db" already taken
	// true
	// held by conn-1
}

// Code written against Backend works with the in-process Registry today and
// with a cluster-wide implementation later.
func ExampleBackend() {
	var b registry.Backend[int] = new(registry.Registry[int])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, name := range []string{"worker-b", "worker-a"} {
		if err := b.Register(ctx, name, i); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(b.Names())
	// Output:
	// [worker-a worker-b]
}
