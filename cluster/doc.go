// Package cluster holds the small interfaces arbor's cluster engines
// implement, and the step-down pattern that runs a child on exactly one node
// of a cluster: OTP's distributed applications, failover included.
//
// It imports only the standard library and arbor's own packages. Engines live
// in modules of their own, so that their dependency graphs never reach users
// of the core: github.com/arborgo/arbor/cluster/etcd is the etcd one.
//
// # Leadership
//
// An [Elector] grants leadership of a name to one candidate at a time, as a
// [Lease]: a term with a fencing [Token] and a channel, [Lease.Lost], closed
// when the holder must stop at once because another candidate may soon be
// promoted. [Elector.Margin] is how long the holder has, from that moment, to
// stop the work it guards.
//
// [Local] is the in-process Elector: one copy of each singleton among the
// trees of one process. An engine's elector (an etcd.Node, for one) makes it
// one copy in the cluster.
//
// # Singletons
//
// [Singleton] wraps a [child.Spec] so that the child runs only while its
// node leads the singleton's name. Its order of operations is the safety
// argument:
//
//   - promotion: the child starts only once the lease is granted, with the
//     token in its context ([TokenFrom]); it passes the token to every
//     guarded write, so a deposed leader's writes are refused;
//   - step-down before promotion: when [Lease.Lost] closes, the child is
//     stopped first and the lease released only once it has returned; the
//     engine closes Lost early enough (Margin before another node can win)
//     for a child that honours its shutdown budget to be gone by then;
//   - voluntary hand-off (the supervisor stops the singleton): the child is
//     stopped, its return (the stopped handshake) awaited, and only then is
//     the lease released, so the next leader cannot start before it.
//
// A node that freezes (a long GC pause, a suspended VM) can wake after its
// lease expired and before it noticed; only the fencing token protects the
// shared state then. Make every write that matters check it.
//
// # Observing leadership
//
// A singleton's terms are events of the supervisor that runs it:
// supervisor.LeadershipAcquired when a term begins, then
// supervisor.LeadershipLost (reported as soon as the child has returned,
// before the release) or supervisor.LeadershipReleased (a hand-off, after
// the release), with the name and token in Event.Term. They are logged,
// counted by package prom, and the leading term shows in ChildInfo.Term.
// [WithLeadershipHook] reports the same changes to a function.
package cluster
