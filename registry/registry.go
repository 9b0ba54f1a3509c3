package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Sentinel errors returned by [Registry] and expected from every [Backend].
// Match them with [errors.Is]: the error returned is not always the sentinel
// itself (a *[TakenError], for one, matches ErrTaken).
var (
	// ErrInvalidName is returned when a name is not acceptable. The only
	// invalid name is the empty string.
	ErrInvalidName = errors.New("registry: invalid name: must not be empty")

	// ErrNilContext is returned when a nil context.Context is passed to
	// Register or Wait.
	ErrNilContext = errors.New("registry: nil context")

	// ErrTaken is returned by Register when the name is held by a live
	// entry. The returned error is a *[TakenError], which also identifies the
	// current holder (OTP's {error, {already_started, Pid}}).
	ErrTaken = errors.New("registry: name already taken")
)

// TakenError reports that Register failed because Name is held by a live
// entry whose value is Holder. It matches [ErrTaken] with [errors.Is] and can
// be extracted with [errors.As]:
//
//	var taken *registry.TakenError[*sql.DB]
//	if errors.As(err, &taken) {
//		use(taken.Holder)
//	}
type TakenError[V any] struct {
	// Name is the name that was requested.
	Name string
	// Holder is the value of the live entry that holds Name, as it was when
	// Register failed. Its incarnation may have ended since.
	Holder V
}

// Error implements the error interface.
func (e *TakenError[V]) Error() string {
	return fmt.Sprintf("registry: name %q already taken", e.Name)
}

// Unwrap returns [ErrTaken], so that errors.Is(err, ErrTaken) holds.
func (e *TakenError[V]) Unwrap() error { return ErrTaken }

// Backend is the minimal API shared by every registry implementation: the
// in-process [Registry] and, later, a cluster-wide registry.
//
// Implementations follow the rules documented on [Registry]: an entry lives
// as long as the context it was registered with; once that context is done,
// reads in the process that registered it treat the entry as absent at
// once, and a Register of the same name from that process succeeds even if
// the old entry has not been removed yet. A cluster-wide implementation
// cannot make reads on other nodes see the end of an entry at the same
// instant; it documents how soon they do. Lookup and Names must not block on
// the network: a remote implementation serves them from a local, watched
// copy.
type Backend[V any] interface {
	// Register binds name to v until ctx is done.
	Register(ctx context.Context, name string, v V) error
	// Lookup returns the value of the live entry for name, if any.
	Lookup(name string) (V, bool)
	// Wait blocks until name is held by a live entry and returns its value.
	Wait(ctx context.Context, name string) (V, error)
	// Names returns the sorted names of all live entries.
	Names() []string
}

var _ Backend[int] = (*Registry[int])(nil)

// entry is one registration: one name bound to one incarnation's lifetime.
// All fields are written before the entry is published in Registry.entries
// and are read-only afterwards, so readers need no lock.
type entry[V any] struct {
	value V
	// done is ctx.Done() of the registering context, captured once at
	// Register (Done must return the same channel on every call). A nil
	// channel (context.Background and the like) never becomes ready, so the
	// entry stays live for as long as the process runs.
	done <-chan struct{}
}

// live reports whether the entry's context is not yet done. It is a
// non-blocking receive: once the context has been cancelled, every live call
// that happens after the cancellation returns false, whether or not the
// entry's cleanup has run.
func (e *entry[V]) live() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// waitSlot is the broadcast channel for the goroutines waiting for one name.
type waitSlot struct {
	// ch is closed (and the slot removed from Registry.waiters) by the next
	// successful Register of the name. Never sent on.
	ch chan struct{}
	// n counts the Wait calls holding the slot; guarded by Registry.mu.
	// The last one to give up removes a slot that was never closed, so
	// abandoned waits do not accumulate. Once the slot is closed, n is
	// no longer used.
	n int
}

// Registry maps names to the value registered by the current incarnation of
// a child. The zero value is an empty registry ready to use. A Registry is
// safe for concurrent use and must not be copied after first use.
//
// # Lifetime
//
// An entry lives exactly as long as the context passed to [Registry.Register].
// As soon as that context is done, the entry is absent for [Registry.Lookup],
// [Registry.Wait], [Registry.Names] and [Registry.Len], and the name may be
// registered again, even before the entry's cleanup (run through
// [context.AfterFunc]) has removed it from memory. There is no Unregister:
// cancel the context instead.
//
// # Design of lookups
//
// Entries are kept in a [sync.Map] keyed by name, whose Load is a walk of a
// concurrent hash trie made only of atomic loads: readers never write shared
// memory, so they neither block nor contend on a cache line, whatever the
// number of cores. The alternatives were rejected:
//
//   - a map behind a sync.RWMutex (even sharded): RLock is an atomic add on
//     the lock word, so parallel readers of one shard contend on its cache
//     line and slow down as cores are added (golang/go#17973);
//   - a copy-on-write map behind an atomic.Pointer: as fast to read, but every
//     Register and every cleanup copies the whole map, O(n) per restart,
//     which is quadratic for a tree that starts n named children.
//
// Liveness is checked on every read by a non-blocking receive from the
// entry's Done channel, so correctness never depends on when cleanup runs.
//
// Writers (Register, cleanup) and the bookkeeping of Wait are serialised by
// a single mutex. Writes happen when children start and stop, a rate bounded
// by the supervisors' restart intensity, and the mutex makes "check the
// current holder, then replace it" and the hand-off to waiters trivially
// atomic.
type Registry[V any] struct {
	// entries maps a name (string) to its current *entry[V], live or dead.
	// Read without locking; Store and Delete only while holding mu.
	entries sync.Map

	// mu serialises writers to entries and guards waiters. Lookups never
	// take it.
	mu sync.Mutex
	// waiters maps a name to the slot of the Wait calls blocked on it.
	// Guarded by mu; allocated lazily (nil in the zero value).
	waiters map[string]*waitSlot
}

// Register binds name to v for as long as ctx is not done. It is meant to be
// called by a child from inside its Serve(ctx), with that ctx (or a context
// derived from it by the standard library), before it reports ready.
//
// Register fails with:
//   - [ErrNilContext] if ctx is nil;
//   - [ErrInvalidName] if name is empty;
//   - an error wrapping ctx.Err() if ctx is already done (nothing is
//     registered);
//   - a *[TakenError] matching [ErrTaken] if name is held by a live entry.
//
// An entry whose context is done does not hold its name: registering over it
// succeeds even if its cleanup has not run yet. Cleanup removes only the
// entry it was created for, never the one that replaced it.
func (r *Registry[V]) Register(ctx context.Context, name string, v V) error {
	if ctx == nil {
		return ErrNilContext
	}
	if name == "" {
		return ErrInvalidName
	}
	e := &entry[V]{value: v, done: ctx.Done()}
	if !e.live() {
		return fmt.Errorf("registry: register %q: %w", name, ctx.Err())
	}

	r.mu.Lock()
	if old, ok := r.entries.Load(name); ok {
		if o := old.(*entry[V]); o.live() {
			r.mu.Unlock()
			return &TakenError[V]{Name: name, Holder: o.value}
		}
	}
	r.entries.Store(name, e)
	if s := r.waiters[name]; s != nil {
		// Wake every Wait blocked on name. They re-check with Lookup, so a
		// value that is already dead again is never returned.
		close(s.ch)
		delete(r.waiters, name)
	}
	r.mu.Unlock()

	// Runs once ctx is done (immediately, in its own goroutine, if it became
	// done in the meantime). Readers already ignore the entry by then; this
	// only frees memory. The stop function is not needed: the entry cannot
	// be removed any other way.
	afterFunc(ctx, func() { r.remove(name, e) })
	return nil
}

// remove deletes name from the registry if, and only if, it is still bound
// to e.
func (r *Registry[V]) remove(name string, e *entry[V]) {
	r.mu.Lock()
	r.entries.CompareAndDelete(name, e)
	r.mu.Unlock()
}

// Lookup returns the value registered under name by a live entry. It returns
// the zero value and false if the name is unknown or its holder's context is
// done. Lookup never blocks and takes no lock.
func (r *Registry[V]) Lookup(name string) (V, bool) {
	if p, ok := r.entries.Load(name); ok {
		if e := p.(*entry[V]); e.live() {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// Wait returns the value of the live entry for name, blocking until one is
// registered. If the current holder's context is done, Wait blocks until the
// next incarnation registers, so a dependant rides through a restart instead
// of failing. If name is held when Wait is called, its value is returned
// even if ctx is already done.
//
// Wait returns ctx.Err() (unwrapped) when ctx is done first, [ErrNilContext]
// if ctx is nil and [ErrInvalidName] if name is empty. It does not poll: it
// sleeps on a per-name channel closed by the next successful Register.
func (r *Registry[V]) Wait(ctx context.Context, name string) (V, error) {
	var zero V
	if ctx == nil {
		return zero, ErrNilContext
	}
	if name == "" {
		return zero, ErrInvalidName
	}
	for {
		if v, ok := r.Lookup(name); ok {
			return v, nil
		}
		// Subscribe, then look up again: a Register that stores its entry
		// after this Lookup closes the channel we hold, and one that
		// closed the channel before we subscribed stored its entry before
		// this Lookup.
		s := r.subscribe(name)
		if v, ok := r.Lookup(name); ok {
			r.unsubscribe(name, s)
			return v, nil
		}
		if hook := testHookWaitBlocking; hook != nil {
			hook(name)
		}
		select {
		case <-s.ch:
			// Register has removed the slot from waiters already: there is
			// nothing to unsubscribe from.
			if hook := testHookWaitWoken; hook != nil {
				hook(name)
			}
		case <-ctx.Done():
			r.unsubscribe(name, s)
			return zero, ctx.Err()
		}
	}
}

// afterFunc schedules the cleanup of an entry. It is context.AfterFunc,
// except in tests, which replace it to observe or delay cleanups.
var afterFunc = context.AfterFunc

// Test hooks, nil except in tests, which set them before starting any
// goroutine that calls Wait: testHookWaitBlocking is called each time Wait
// is about to block on a name, testHookWaitWoken each time a Register has
// woken it, before it looks the name up again.
var (
	testHookWaitBlocking func(name string)
	testHookWaitWoken    func(name string)
)

// subscribe returns the wait slot for name, creating it if needed, and
// counts the caller in it.
func (r *Registry[V]) subscribe(name string) *waitSlot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.waiters[name]
	if s == nil {
		if r.waiters == nil {
			r.waiters = make(map[string]*waitSlot)
		}
		s = &waitSlot{ch: make(chan struct{})}
		r.waiters[name] = s
	}
	s.n++
	return s
}

// unsubscribe counts the caller out of s and drops s from waiters when it
// was the last one and s is still the slot for name (not closed meanwhile).
func (r *Registry[V]) unsubscribe(name string, s *waitSlot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.n--
	if s.n == 0 && r.waiters[name] == s {
		delete(r.waiters, name)
	}
}

// Names returns the names of all live entries in increasing order, or nil
// if there are none. The result is a snapshot: entries may come and go while
// it is being built.
func (r *Registry[V]) Names() []string {
	var names []string
	r.entries.Range(func(k, p any) bool {
		if p.(*entry[V]).live() {
			names = append(names, k.(string))
		}
		return true
	})
	slices.Sort(names)
	return names
}

// Len returns the number of live entries. It walks the whole registry, so it
// costs O(n); it is meant for tests and metrics, not hot paths.
func (r *Registry[V]) Len() int {
	n := 0
	r.entries.Range(func(_, p any) bool {
		if p.(*entry[V]).live() {
			n++
		}
		return true
	})
	return n
}
