// Package etcd is arbor's cluster engine on etcd: a cluster-wide name
// registry whose entries die with their node, and the [cluster.Elector]
// behind singleton children ([cluster.Singleton]), with step-down before
// promotion and fencing tokens.
//
// It is a module of its own (github.com/arborgo/arbor/cluster/etcd), so that
// etcd's dependency graph (gRPC, protobuf, OpenTelemetry) never reaches
// users of arbor's core.
//
// # Nodes
//
// Each process opens one [Node] with an etcd client ([Open]). The node holds
// a session, a lease renewed every (TTL-Margin)/3, that its registered names
// hang off: when the node dies or is partitioned for longer than the TTL, the
// lease expires and all its names vanish together, like OTP's global.
// Unlike arbor's core, this package reads the real clock and takes no
// supervisor.Clock: etcd's leases expire on the server's real clock, and the
// step-down deadline must run on the same kind of time.
//
// # Singletons
//
// A Node is a [cluster.Elector]:
//
//	spec, err := cluster.Singleton(child.Spec{ID: "billing", Service: billing, Shutdown: 3 * time.Second}, node)
//
// Each campaign runs on a session of its own. The term is declared lost, and
// the child stopped, as soon as the lease is gone or no renewal has
// succeeded for TTL minus Margin: the child's shutdown budget must be
// shorter than Margin, so that it has returned before the lease can expire
// and another node be promoted. A voluntary hand-off stops the child, waits
// for it to return, and then revokes the term's lease, which promotes the
// next candidate at once.
//
// # Fencing
//
// The child finds its term's token with [cluster.TokenFrom]: the election
// key and its create revision. [GuardedTxn] and [GuardedPut] write to etcd
// only while that term lasts; the revision increases from term to term, so
// external systems can refuse writes from a deposed leader by remembering
// the highest revision they have seen. A node frozen past its lease (a GC
// pause, a suspended VM) wakes up believing it leads: only the token stops
// its writes.
package etcd
