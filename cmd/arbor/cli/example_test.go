package cli_test

import (
	"context"
	"os"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/cli"
	"github.com/arborgo/arbor/registry"
)

// The main of an arbor binary with a cluster engine. This engine is the
// in-process one: a single arbor is its whole cluster. arbor-etcd's connect
// opens an etcd.Node, the Elector, and an etcd.Registry, the Names.
func ExampleWithCluster() {
	connect := func(_ context.Context, c cli.Cluster) (*cli.Engine, error) {
		return &cli.Engine{Elector: new(cluster.Local), Names: new(registry.Registry[cli.Location])}, nil
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.WithCluster(connect)))
}
