package drain

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/drainend"
)

var (
	// ErrClosed is returned by a push once the drain has begun, and while the
	// pool is not serving (before Serve, between restarts, after the stop).
	ErrClosed = errors.New("drain: queue closed")
	// ErrFull is returned by TryPush when every slot of the queue is taken.
	ErrFull = errors.New("drain: queue full")
	// ErrForced is matched by the *ForcedError Serve returns when the stop
	// deadline came before the queue was empty.
	ErrForced = errors.New("drain: forced at the stop deadline")
	// ErrServing is returned by Serve when the pool is already serving.
	ErrServing = errors.New("drain: already serving")
)

// ForcedError reports a drain that the stop deadline cut short.
type ForcedError struct {
	Deadline  time.Time // the deadline the drain was forced at (less Margin)
	Cancelled int       // items in hand whose work context was cancelled
	Dropped   int       // queued items never worked on, handed to Dropped
}

func (e *ForcedError) Error() string {
	return fmt.Sprintf("drain: forced at the stop deadline: %d in hand cancelled, %d queued dropped", e.Cancelled, e.Dropped)
}

// Is makes a *ForcedError match ErrForced.
func (e *ForcedError) Is(target error) bool { return target == ErrForced }

// Pool is a queue of T and the workers that empty it, to run as a child of a
// supervisor: Serve is its child.Service method. Set its fields before the
// first Serve and leave them alone afterwards. Push, TryPush and Len are safe
// for concurrent use.
type Pool[T any] struct {
	// Work handles one item. ctx is not cancelled by the stop request, only
	// when the drain is forced; it carries the values of Serve's context.
	// Required.
	Work func(ctx context.Context, item T)

	// Workers is how many goroutines run Work. Default 1.
	Workers int

	// Capacity is how many items the queue holds. Default Workers.
	Capacity int

	// Dropped, if set, receives each item that was queued but never worked on
	// because the drain was forced, or because Serve failed (a Work panic). It
	// is called from Serve's goroutine after every worker has returned.
	Dropped func(item T)

	// Deadline tells when the drain must be over. Default child.StopDeadline;
	// false means no deadline: the drain waits for the queue to empty. It is
	// called once, when the drain begins, after the queue has closed.
	Deadline func(ctx context.Context) (time.Time, bool)

	// Margin is how long before the deadline the work in hand is cancelled,
	// so that the workers can return before the supervisor abandons the
	// child. Default: a tenth of the time left, at most 100 ms.
	Margin time.Duration

	// Pushers hold mu for reading across their channel send, which is safe
	// only because the send also selects on closing, and the drain closes
	// closing before it takes mu for writing.
	mu      sync.RWMutex
	items   chan T        // guarded by mu: nil while not serving
	closing chan struct{} // guarded by mu: closed when the drain begins
}

// Push queues item, waiting for a free slot while the queue is full. It
// returns ErrClosed if the pool is not serving or its drain has begun, and
// ctx.Err() if ctx ends first.
func (p *Pool[T]) Push(ctx context.Context, item T) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.openLocked(); err != nil {
		return err
	}
	select {
	case p.items <- item:
		return nil
	case <-p.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryPush queues item if a slot is free, without waiting. It returns ErrFull
// if the queue is full, and ErrClosed as Push does.
func (p *Pool[T]) TryPush(item T) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.openLocked(); err != nil {
		return err
	}
	select {
	case p.items <- item:
		return nil
	default:
		return ErrFull
	}
}

// openLocked returns ErrClosed unless the queue takes items.
func (p *Pool[T]) openLocked() error {
	if p.items == nil {
		return ErrClosed
	}
	select {
	case <-p.closing:
		return ErrClosed
	default:
		return nil
	}
}

// Len returns how many items are queued and not yet taken by a worker; 0
// while the pool is not serving.
func (p *Pool[T]) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.items)
}

// Serve opens the queue, reports the child ready, and runs the workers until
// ctx is done; then it drains as the package documentation describes. It
// returns nil after a complete drain, a *ForcedError after a forced one, and
// the panic of a Work call, as an error, if one panicked (the pool then stops
// at once, as if forced, and its supervisor restarts it).
func (p *Pool[T]) Serve(ctx context.Context) error {
	if p.Work == nil {
		return errors.New("drain: Pool.Work is nil")
	}
	workers := max(p.Workers, 1)
	capacity := p.Capacity
	if capacity <= 0 {
		capacity = workers
	}
	items, closing, err := p.open(capacity)
	if err != nil {
		return err
	}
	child.Ready(ctx)

	// The work outlives the stop request: cancelling workCtx is the forced
	// step, and nothing else.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var (
		wg       sync.WaitGroup
		inHand   atomic.Int64
		late     lateItems[T]
		panicked = make(chan error, workers) // buffered: a worker never blocks on it
	)
	for range workers {
		wg.Add(1)
		// Ends when the queue is closed and empty, or when workCtx is
		// cancelled; Serve waits for it with wg before it returns.
		go func() {
			defer wg.Done()
			p.work(workCtx, items, &inHand, &late, panicked)
		}()
	}
	workersDone := make(chan struct{})
	// Ends when every worker has returned; each worker ends as said above,
	// and Serve always ends them, so this goroutine cannot outlive Serve.
	go func() {
		wg.Wait()
		close(workersDone)
	}()

	var failure error
	select {
	case <-ctx.Done():
	case failure = <-panicked:
	}
	p.close(closing)
	if failure != nil {
		cancelWork()
		<-workersDone
		p.dropRest(items, &late)
		return failure
	}

	deadline, bounded := p.deadline(ctx)
	var forceAt <-chan time.Time
	if bounded {
		left := time.Until(deadline)
		margin := p.Margin
		if margin <= 0 {
			margin = drainend.Margin(left) // child.DrainContext's rule
		}
		deadline = deadline.Add(-margin)
		t := time.NewTimer(max(left-margin, 0))
		defer t.Stop()
		forceAt = t.C
	}
	select {
	case <-workersDone:
		return nil
	case failure = <-panicked:
		cancelWork()
		<-workersDone
		p.dropRest(items, &late)
		return failure
	case <-forceAt:
	}
	cancelled := int(inHand.Load())
	cancelWork()
	<-workersDone
	// A worker may have finished its item between the load and the cancel;
	// the count is of the work whose context was cancelled while in hand.
	select {
	case failure = <-panicked:
	default:
	}
	dropped := p.dropRest(items, &late)
	return errors.Join(&ForcedError{Deadline: deadline, Cancelled: cancelled, Dropped: dropped}, failure)
}

// open makes the queue of one incarnation.
func (p *Pool[T]) open(capacity int) (chan T, chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.items != nil {
		return nil, nil, ErrServing
	}
	p.items, p.closing = make(chan T, capacity), make(chan struct{})
	return p.items, p.closing, nil
}

// close ends the pushes: first closing, which wakes every pusher waiting in
// Push, then, once they have let go of mu, the queue itself, which the
// workers see once it is empty.
func (p *Pool[T]) close(closing chan struct{}) {
	close(closing)
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.items)
	p.items, p.closing = nil, nil
}

func (p *Pool[T]) deadline(ctx context.Context) (time.Time, bool) {
	if p.Deadline != nil {
		return p.Deadline(ctx)
	}
	return child.StopDeadline(ctx)
}

// work is one worker: it takes items until the queue is closed and empty or
// workCtx is cancelled.
func (p *Pool[T]) work(workCtx context.Context, items <-chan T, inHand *atomic.Int64, late *lateItems[T], panicked chan<- error) {
	for {
		if workCtx.Err() != nil {
			return
		}
		select {
		case item, ok := <-items:
			if !ok {
				return
			}
			if workCtx.Err() != nil {
				// Forced between the receive and now: not worked on.
				late.add(item)
				return
			}
			if err := p.run(workCtx, item, inHand); err != nil {
				panicked <- err
				return
			}
		case <-workCtx.Done():
			return
		}
	}
}

// run calls Work for one item. A panic there would take the whole process
// down, since it happens on a goroutine of the pool's, not on Serve's: it is
// recovered and becomes Serve's error, so the supervisor sees a crash.
func (p *Pool[T]) run(ctx context.Context, item T, inHand *atomic.Int64) (err error) {
	inHand.Add(1)
	defer inHand.Add(-1)
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("drain: Work panicked: %v\n%s", v, debug.Stack())
		}
	}()
	p.Work(ctx, item)
	return nil
}

// dropRest hands every item a worker took too late, then every item left in
// the closed queue, to Dropped, once the workers have returned, and returns
// how many there were.
func (p *Pool[T]) dropRest(items <-chan T, late *lateItems[T]) int {
	n := 0
	drop := func(item T) {
		n++
		if p.Dropped != nil {
			p.Dropped(item)
		}
	}
	for _, item := range late.items {
		drop(item)
	}
	for item := range items {
		drop(item)
	}
	return n
}

// lateItems holds the items workers received after the drain was forced.
type lateItems[T any] struct {
	mu    sync.Mutex
	items []T // guarded by mu while workers run; read by Serve after they return
}

func (l *lateItems[T]) add(item T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, item)
}
