package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/internal/agent"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/registry"
)

// An Option adds to what [Main] can do.
type Option func(*options)

type options struct {
	connect Connect
}

// WithCluster gives the command a cluster engine: arbor run calls connect
// for a tree file with a cluster: section, and runs the file's singletons
// on the engine's elector and registers its cluster-scoped names in the
// engine's registry. Without it, such a file is refused.
func WithCluster(connect Connect) Option {
	return func(o *options) { o.connect = connect }
}

// Connect opens a cluster engine for the cluster: section c of the tree
// file. arbor run calls it once, before it starts the tree, with a context
// that bounds the connection ([ConnectTimeout]) and is cancelled when Connect
// returns (the engine must not keep it), and closes the engine once the tree
// has stopped.
type Connect func(ctx context.Context, c Cluster) (*Engine, error)

// ConnectTimeout bounds the call to [Connect].
const ConnectTimeout = 30 * time.Second

// Cluster is the cluster: section of a tree file, defaults applied, and
// what else an engine needs from arbor run.
type Cluster struct {
	// Node is this node's name in the cluster: the file's node, else the
	// host name.
	Node string
	// Endpoints are the engine's client URLs.
	Endpoints []string
	// TTL is the time to live of the node's session: a whole number of
	// seconds, default 10s.
	TTL time.Duration
	// Margin is how long before its session can expire the node stops its
	// singletons: below TTL, default six tenths of it. Every singleton's
	// shutdown budget was checked to fit it.
	Margin time.Duration
	// Prefix is put before every key the engine writes; it ends with '/'.
	// Default /arbor/.
	Prefix string
	// Priority orders the nodes for the takeover of singletons (higher
	// first). Default 0.
	Priority int
	// Logger is arbor's log, for the engine's reports.
	Logger *zap.Logger
}

// Engine is a cluster engine, as [Connect] returns it.
type Engine struct {
	// Elector runs the singletons: one node at a time runs each.
	Elector cluster.Elector
	// Names is the cluster-wide registry of the names registered with
	// scope: cluster.
	Names registry.Backend[Location]
	// Close, if not nil, is called once the tree has stopped.
	Close func(ctx context.Context) error
	// Lost, if not nil, is closed when the node's membership of the
	// cluster has ended for good (its session expired or could not be
	// renewed): the cluster no longer holds its names, and another node's
	// process may take them. arbor run then stops the tree, as for SIGTERM,
	// and exits 1, so that the service manager starts it again with a new
	// session.
	Lost <-chan struct{}
}

// Location is where a registered name lives: the value arbor registers.
type Location struct {
	// Node is the name of the node the process runs on.
	Node string `json:"node"`
	// Path is the process's path in its tree, such as "root/db".
	Path string `json:"path"`
	// PID is the process's pid on that node.
	PID int `json:"pid,omitempty"`
}

// errNoEngine explains how to run a tree file with a cluster: section.
func errNoEngine(f *treefile.File) *treefile.Error {
	return &treefile.Error{File: f.Name, Line: f.Cluster.Line, Column: f.Cluster.Column, Path: "cluster",
		Message: "this arbor has no cluster engine: run the file with arbor-etcd " +
			"(go install github.com/arborgo/arbor/cluster/etcd/cmd/arbor-etcd@latest)"}
}

// connectEngine opens the engine of f's cluster: section.
func (o *options) connectEngine(ctx context.Context, f *treefile.File, log *zap.Logger) (*Engine, error) {
	c := f.Cluster
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	e, err := o.connect(ctx, Cluster{Node: f.NodeName(), Endpoints: c.Endpoints, TTL: c.TTL, Margin: c.Margin,
		Prefix: c.Prefix, Priority: c.Priority, Logger: log})
	switch {
	case err != nil:
		return nil, fmt.Errorf("cluster: connect to %v: %w", c.Endpoints, err)
	case e == nil || e.Elector == nil || e.Names == nil:
		return nil, fmt.Errorf("cluster: the engine has no Elector or no Names")
	}
	return e, nil
}

// names adapts an engine's registry to the agent's values.
type names struct{ b registry.Backend[Location] }

var _ registry.Backend[agent.Location] = names{}

func (n names) Register(ctx context.Context, name string, v agent.Location) error {
	return n.b.Register(ctx, name, Location(v))
}

func (n names) Lookup(name string) (agent.Location, bool) {
	v, ok := n.b.Lookup(name)
	return agent.Location(v), ok
}

func (n names) Wait(ctx context.Context, name string) (agent.Location, error) {
	v, err := n.b.Wait(ctx, name)
	return agent.Location(v), err
}

func (n names) Names() []string { return n.b.Names() }

func newNamesCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "names",
		Short: "List the registered names: local ones, then the cluster's, with the node that holds each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rows []agent.Name
			if err := newClient(g.socket).do(cmd.Context(), "GET", "/v1/names", nil, &rows); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			printNames(cmd.OutOrStdout(), rows)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printNames(w io.Writer, rows []agent.Name) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPE\tNODE\tPATH\tPID")
	for _, r := range rows {
		pid := "-"
		if r.PID != 0 {
			pid = strconv.Itoa(r.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Scope, r.Node, r.Path, pid)
	}
	tw.Flush()
}
