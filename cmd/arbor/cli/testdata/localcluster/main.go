// Command localcluster is arbor with an in-process cluster engine, for the
// tests of package cli: cluster.Local runs the singletons and a
// registry.Registry holds the cluster-scoped names. SIGUSR1 ends the node's
// membership (the engine's Lost), as an expired session would.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/cli"
	"github.com/arborgo/arbor/registry"
)

func main() {
	lost := make(chan struct{})
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() { <-usr1; close(lost) }() // ends with the process, or at SIGUSR1
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
			Lost: lost,
		}, nil
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.WithCluster(connect)))
}
