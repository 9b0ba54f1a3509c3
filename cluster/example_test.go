package cluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/supervisor"
)

// Two trees in one process share a singleton through a Local elector: the
// child runs in one tree at a time, and the other takes over when the first
// stops (a hand-off: the new copy starts only after the old one returned).
// With github.com/arborgo/arbor/cluster/etcd, the trees are on different
// machines and the elector is an etcd.Node.
func ExampleSingleton() {
	var elector cluster.Local
	started := make(chan string)
	newTree := func(name string) *supervisor.Supervisor {
		job := child.Func(func(ctx context.Context) error {
			tok, _ := cluster.TokenFrom(ctx)
			fmt.Printf("%s: leading, token %v\n", name, tok)
			started <- name
			<-ctx.Done()
			fmt.Printf("%s: stopped\n", name)
			return nil
		})
		spec, err := cluster.Singleton(child.Spec{ID: "job", Service: job, Shutdown: time.Second}, &elector)
		if err != nil {
			panic(err)
		}
		sup, err := supervisor.New(name, []child.Spec{spec})
		if err != nil {
			panic(err)
		}
		if err := sup.Start(context.Background()); err != nil {
			panic(err)
		}
		return sup
	}

	a := newTree("a")
	<-started
	b := newTree("b") // a candidate: waits
	_ = a.Stop(context.Background())
	<-started
	_ = b.Stop(context.Background())

	// Output:
	// a: leading, token job@1
	// a: stopped
	// b: leading, token job@2
	// b: stopped
}
