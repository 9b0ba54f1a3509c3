package child_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
)

// Func adapts a plain function to a Service, as http.HandlerFunc does; its
// result is the incarnation's exit reason, classified by IsNormal.
func ExampleFunc() {
	svc := child.Func(func(ctx context.Context) error {
		return errors.New("disk full")
	})
	err := svc.Serve(context.Background())
	fmt.Println(err, "normal:", child.IsNormal(err))
	// Output:
	// disk full normal: false
}

func ExampleSpec_Validate() {
	spec := child.Spec{
		ID:       "db",
		Service:  child.Func(func(ctx context.Context) error { return nil }),
		Shutdown: -5 * time.Second,
	}
	err := spec.Validate()
	fmt.Println(errors.Is(err, child.ErrInvalidSpec))
	var se *child.SpecError
	if errors.As(err, &se) {
		fmt.Println(se.ID, se.Field, se.Value)
	}
	// Output:
	// true
	// db Shutdown -5s
}

func ExampleSpec_WithDefaults() {
	w := child.Spec{ID: "db"}.WithDefaults()
	s := child.Spec{ID: "sub", Kind: child.KindSupervisor}.WithDefaults()
	fmt.Println(w, w.Shutdown, w.StartTimeout, w.AwaitReady)
	fmt.Println(s, s.Shutdown == child.Infinity, s.StartTimeout == child.Infinity, s.AwaitReady)
	// Output:
	// worker "db" (permanent) 5s 15s false
	// supervisor "sub" (permanent) true true true
}

func ExampleShutdownf() {
	err := child.Shutdownf("config reloaded")
	fmt.Println(err)
	fmt.Println(child.IsNormal(err))
	fmt.Println(child.IsNormal(nil))
	fmt.Println(child.IsNormal(errors.New("disk full")))
	fmt.Println(child.IsNormal(context.Canceled))
	// Output:
	// child: shutdown: config reloaded
	// true
	// true
	// false
	// false
}

func ExampleRestart_ShouldRestart() {
	for _, r := range []child.Restart{child.Permanent, child.Transient, child.Temporary} {
		fmt.Printf("%-9s normal:%-5v crash:%v\n", r, r.ShouldRestart(true), r.ShouldRestart(false))
	}
	// Output:
	// permanent normal:true  crash:true
	// transient normal:false crash:true
	// temporary normal:false crash:false
}
