// Command arbor-etcd is the arbor command with the etcd cluster engine: every
// command of arbor, and tree files with a cluster: section, whose singleton
// processes run on one node of the cluster at a time and whose cluster-scoped
// names are known to every node. docs/cli.md in the arbor repository
// documents the commands and the tree file.
//
//	go install github.com/arborgo/arbor/cluster/etcd/cmd/arbor-etcd@latest
//	arbor-etcd run -c tree.yaml
package main

import (
	"context"
	"errors"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/cluster/etcd"
	"github.com/arborgo/arbor/cmd/arbor/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.WithCluster(connect)))
}

// dialTimeout bounds the etcd client's first connection.
const dialTimeout = 5 * time.Second

// connect opens an etcd client, the node's etcd.Node (the elector of its
// singletons) and the registry of its cluster-scoped names; the engine's
// Close closes them in reverse order, and its Lost is the node's session's
// end.
func connect(ctx context.Context, c cli.Cluster) (*cli.Engine, error) {
	client, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints, DialTimeout: dialTimeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	node, err := etcd.Open(ctx, etcd.Config{Client: client, Name: c.Node, Prefix: c.Prefix, TTL: c.TTL,
		Margin: c.Margin, Priority: c.Priority, Logger: c.Logger})
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	names, err := etcd.NewRegistry[cli.Location](ctx, node, nil)
	if err != nil {
		return nil, errors.Join(err, node.Close(ctx), client.Close())
	}
	return &cli.Engine{Elector: node, Names: names, Close: func(ctx context.Context) error {
		return errors.Join(names.Close(), node.Close(ctx), client.Close())
	}, Lost: node.Done()}, nil
}
