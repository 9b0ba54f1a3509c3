// Package drain is the drain handshake of a supervised worker pool: polite
// first, forced at the child's stop deadline.
//
// A [Pool] is a queue and the workers that empty it, run as one child of a
// supervisor. It imports only the standard library and package child.
//
// # The handshake
//
// While the pool serves, [Pool.Push] and [Pool.TryPush] queue items and the
// workers take them one at a time. When the supervisor asks the child to stop
// (it cancels Serve's context):
//
//  1. the queue closes: from then on every push returns [ErrClosed], so an item
//     offered after the drain began is refused to its sender, never lost
//     silently;
//  2. the workers go on: each finishes the item in hand and takes the next,
//     until the queue is empty;
//  3. if the child's stop deadline ([child.StopDeadline]) comes first, the
//     drain is forced a little before it (see [Pool.Margin]): the context of
//     the work in hand is cancelled, the items still queued are handed to
//     [Pool.Dropped], and Serve returns a [*ForcedError].
//
// Every item accepted by a push is therefore either worked on or dropped, and
// dropped items are reported one by one.
//
// # Declaring it
//
//	pool := &drain.Pool[Job]{Workers: 4, Capacity: 64, Work: handle, Dropped: reject}
//	spec := child.Spec{ID: "workers", Service: pool, AwaitReady: true, Shutdown: 10 * time.Second}
//
// With AwaitReady, the siblings declared after the pool start once its queue
// is open, so they can push at once. Between two incarnations (a restart) the
// queue is closed and pushes return ErrClosed.
//
// # Limits
//
// The work's context outlives the stop request on purpose: cancelling it is
// the forced step. Work that ignores its context cannot be interrupted; the
// supervisor then abandons the child at its deadline and reports it, as for
// any child. The deadline is read once, when the drain begins, and compared
// with the wall clock.
package drain
