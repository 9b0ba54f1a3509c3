// Package registry finds the current incarnation of a named child across
// restarts, like the name registry of Erlang/OTP.
//
// A supervised child registers a value (a connection, a channel, a handle to
// itself) under a well-known name; other parts of the tree look the name up
// instead of holding on to a value that dies with the incarnation that
// created it. When the child is restarted, its new incarnation registers
// again and lookups find the new value.
//
// # Lifetime
//
// A name is bound to the lifetime of one child incarnation, expressed as a
// [context.Context]:
//
//	err := reg.Register(ctx, "db", conn)
//
// The entry lives until ctx is done. There is no Unregister: cancelling the
// context is the only way to remove an entry, and it cannot be forgotten on
// any exit path. The moment ctx is done, the entry is absent for every read
// ([Registry.Lookup], [Registry.Wait], [Registry.Names], [Registry.Len]) and
// the name can be registered again. Each read checks the entry's Done
// channel itself; the cleanup scheduled with [context.AfterFunc], which runs
// later in another goroutine, only frees memory and only ever removes the
// entry it was scheduled for, never a replacement.
//
// Register with a context that is never done (such as
// [context.Background]) holds the name for the life of the process.
//
// # The supervisor rule
//
// The package relies on one guarantee from the supervisor: the context of a
// child incarnation is cancelled before the supervisor handles that child's
// exit, and so before any replacement is started. Combined with the lifetime
// rule it gives:
//
//   - once the supervisor has observed an exit, no lookup returns the value
//     of the incarnation that exited, or of any older one;
//   - the replacement's Register never fails with [ErrTaken] because of its
//     predecessor, however late the predecessor's cleanup runs;
//   - a child that registers and then crashes never leaves a stale name
//     behind.
//
// The guarantee applies to the context that is cancelled. Register with the
// incarnation's own context, or with one derived from it by the standard
// library (WithValue, WithCancel, WithTimeout...), whose cancellation is
// propagated synchronously; do not register with a detached context.
//
// # Registering from a child
//
// A child registers inside its Serve(ctx), with the ctx it was given, before
// it reports ready to its supervisor (with child.Ready(ctx) from package
// github.com/arborgo/arbor/child). When the supervisor sees the child ready,
// its name is already visible; if Register fails, the child returns the
// error and the start fails, like a gen_server whose init returns
// {error, {already_started, Pid}}:
//
//	func (s *DBServer) Serve(ctx context.Context) error {
//		conn, err := s.open(ctx)
//		if err != nil {
//			return err
//		}
//		defer conn.Close()
//		if err := s.Reg.Register(ctx, "db", conn); err != nil {
//			return err
//		}
//		child.Ready(ctx)
//		<-ctx.Done()
//		return nil
//	}
//
// # Waiting for a dependency
//
// [Registry.Wait] blocks until a name is held by a live entry. A dependant
// that calls Wait when its dependency is being restarted blocks until the
// new incarnation registers, instead of failing. Wait sleeps on a per-name
// channel closed by the next successful Register; it does not poll.
//
// # Errors
//
// Errors are matched with [errors.Is] against the sentinels [ErrInvalidName],
// [ErrNilContext] and [ErrTaken]. A name held by a live entry is reported as
// a *[TakenError], whose Holder field is the value of the current holder.
// Misuse (empty name, nil context) returns an error rather than panicking.
//
// # Backends
//
// [Backend] is the small interface implemented by [*Registry] and meant to
// be implemented by a cluster-wide registry, so that code written against
// the interface can move from one process to a cluster. Backends share the
// lifetime rule (a cluster-wide one exactly so on the node that registered,
// within its watch latency elsewhere), and their reads (Lookup, Names) never
// block on the network.
//
// # Performance
//
// Lookups take no lock and write no shared memory: they are a load from a
// [sync.Map] (a lock-free concurrent hash trie) and a non-blocking receive
// on the entry's Done channel, a few tens of nanoseconds that do not degrade
// when many goroutines look up in parallel. Writes are serialised by a mutex
// and cost O(1) in the number of names. See the benchmarks in
// registry_bench_test.go.
package registry
