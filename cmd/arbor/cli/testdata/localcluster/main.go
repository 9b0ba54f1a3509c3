// Command localcluster is arbor with an in-process cluster engine, for the
// tests of package cli: cluster.Local runs the singletons and a
// registry.Registry holds the cluster-scoped names.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/cli"
	"github.com/arborgo/arbor/registry"
)

func main() {
	connect := func(_ context.Context, c cli.Cluster) (*cli.Engine, error) {
		fmt.Fprintf(os.Stderr, "connect: node %s, endpoints %s, ttl %s, margin %s, prefix %s\n",
			c.Node, strings.Join(c.Endpoints, ","), c.TTL, c.Margin, c.Prefix)
		return &cli.Engine{
			Elector: new(cluster.Local),
			Names:   new(registry.Registry[cli.Location]),
			Close: func(context.Context) error {
				fmt.Fprintln(os.Stderr, "engine closed")
				return nil
			},
		}, nil
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.WithCluster(connect)))
}
