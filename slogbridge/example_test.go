package slogbridge_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/slogbridge"
	"github.com/arborgo/arbor/supervisor"
)

// Code that logs with log/slog writes into the zap pipeline, with the zap
// logger's name and bound fields.
func ExampleNew() {
	zl := zap.NewExample().Named("app").With(zap.String("node", "n1"))
	log := slogbridge.New(zl)
	log.Info("cache warmed", "entries", 42)
	// Output:
	// {"level":"info","logger":"app","msg":"cache warmed","node":"n1","entries":42}
}

// A supervised child logs with slog; its records carry its path in the tree.
func ExampleForChild() {
	zl := zap.NewExample().Named("app")
	logged := make(chan struct{})
	db := child.Func(func(ctx context.Context) error {
		log := slogbridge.ForChild(ctx, zl)
		log.Info("connected", "addr", "10.0.0.1:5432")
		close(logged)
		<-ctx.Done()
		return nil
	})
	sup, err := supervisor.New("app", []child.Spec{{ID: "db", Service: db}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := sup.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	<-logged
	if err := sup.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"level":"info","logger":"app","msg":"connected","path":"app/db","addr":"10.0.0.1:5432"}
}
