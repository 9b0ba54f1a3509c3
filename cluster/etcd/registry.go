package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/arborgo/arbor/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Codec turns a registry's values into bytes stored in etcd and back.
type Codec[V any] interface {
	Marshal(v V) ([]byte, error)
	Unmarshal(b []byte) (V, error)
}

// JSON is the default [Codec]: encoding/json.
type JSON[V any] struct{}

// Marshal implements [Codec].
func (JSON[V]) Marshal(v V) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements [Codec].
func (JSON[V]) Unmarshal(b []byte) (V, error) {
	var v V
	err := json.Unmarshal(b, &v)
	return v, err
}

var _ registry.Backend[string] = (*Registry[string])(nil)

// Registry is a cluster-wide [registry.Backend]: names bound to a child
// incarnation's context on one node and resolved on every node.
//
// Register is a transaction that creates the name's key only if it does not
// exist (first writer wins), on the node's lease, so a node's names vanish
// when it dies or is partitioned past its TTL. When the registering context
// is done, the key is deleted, guarded by its create revision so that a
// successor's key is never touched; until the deletion is seen, the node that
// registered already treats the entry as absent, other nodes within their
// watch latency.
//
// Lookup, Names and Wait are served from a local copy fed by one watch of the
// registry's prefix: they never wait on the network. Build one with
// [NewRegistry] and Close it before the Node.
type Registry[V any] struct {
	n      *Node
	prefix string
	codec  Codec[V]

	// entries maps a name to its current *rentry[V]. Read without lock;
	// written only while holding mu.
	entries sync.Map
	// mu serialises writers of entries and guards waiters, stops and
	// closed.
	mu      sync.Mutex
	waiters map[string]chan struct{}
	// stops holds the stop function of each pending removal (one per live
	// local entry), so that Close can cancel them.
	stops  map[*rentry[V]]func() bool
	closed bool

	// rev is the revision the local copy reflects; advanced is closed
	// and replaced each time it moves. Both guarded by mu.
	rev      int64
	advanced chan struct{}
	// wctx is the context of the current watch, for RequestProgress.
	// Guarded by mu.
	wctx context.Context

	removals sync.WaitGroup // removals under way
	cancel   context.CancelFunc
	watched  chan struct{} // closed when the watch goroutine has returned
}

// rentry is one name's entry: read-only once published.
type rentry[V any] struct {
	value V
	rev   int64 // the key's create revision
	// done is the registering context's Done channel, for entries
	// registered on this node; nil (never ready) for the others.
	done <-chan struct{}
	// removed is closed once the key of an entry registered on this node
	// has been deleted (or its deletion has failed); nil for the others.
	removed chan struct{}
}

func (e *rentry[V]) live() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// NewRegistry loads the names registered under the node's prefix and starts
// the watch that keeps the local copy current. codec may be nil for [JSON].
func NewRegistry[V any](ctx context.Context, n *Node, codec Codec[V]) (*Registry[V], error) {
	if codec == nil {
		codec = JSON[V]{}
	}
	r := &Registry[V]{
		n: n, prefix: n.cfg.Prefix + "names/", codec: codec,
		waiters: make(map[string]chan struct{}), stops: make(map[*rentry[V]]func() bool),
		watched: make(chan struct{}), advanced: make(chan struct{}),
	}
	rev, err := r.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd: new registry: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	// Ends when Close cancels wctx.
	go r.watch(wctx, rev)
	return r, nil
}

// load reads every name and replaces the local copy (keeping this node's own
// live entries that the read does not show yet). It returns the revision read.
func (r *Registry[V]) load(ctx context.Context) (int64, error) {
	resp, err := r.n.cfg.Client.Get(ctx, r.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	seen := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		name := strings.TrimPrefix(string(kv.Key), r.prefix)
		seen[name] = true
		r.put(name, kv.Value, kv.CreateRevision)
	}
	r.mu.Lock()
	r.entries.Range(func(k, p any) bool {
		if e := p.(*rentry[V]); !seen[k.(string)] && e.rev <= resp.Header.Revision {
			r.entries.CompareAndDelete(k, e)
		}
		return true
	})
	r.advanceLocked(resp.Header.Revision)
	r.mu.Unlock()
	return resp.Header.Revision, nil
}

// advanceLocked records that the local copy reflects revision rev.
func (r *Registry[V]) advanceLocked(rev int64) {
	if rev > r.rev {
		r.rev = rev
		close(r.advanced)
		r.advanced = make(chan struct{})
	}
}

// Sync waits until the local copy reflects every change committed in the
// cluster before Sync was called: a name registered on another node before
// is then found by Lookup, and one removed is not. It costs a round trip.
func (r *Registry[V]) Sync(ctx context.Context) error {
	c := r.n.cfg.Client
	resp, err := c.Get(ctx, r.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	target := resp.Header.Revision
	for {
		r.mu.Lock()
		rev, advanced, wctx := r.rev, r.advanced, r.wctx
		r.mu.Unlock()
		if rev >= target {
			return nil
		}
		if wctx != nil {
			// The watch's stream answers with its current revision even
			// when nothing under the prefix changed.
			_ = c.RequestProgress(wctx)
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// watch applies every change under the prefix after revision rev to the
// local copy. When the watch fails (compaction, lost leader), it reloads and
// watches again after a pause.
func (r *Registry[V]) watch(ctx context.Context, rev int64) {
	defer close(r.watched)
	c := r.n.cfg.Client
	for {
		wctx, stopWatch := context.WithCancel(clientv3.WithRequireLeader(ctx))
		r.mu.Lock()
		r.wctx = wctx
		r.mu.Unlock()
		wch := c.Watch(wctx, r.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				name := strings.TrimPrefix(string(ev.Kv.Key), r.prefix)
				if ev.Type == clientv3.EventTypeDelete {
					r.drop(name, ev.Kv.ModRevision)
				} else if ev.IsCreate() {
					r.put(name, ev.Kv.Value, ev.Kv.CreateRevision)
				}
			}
			rev = wr.Header.Revision
			r.mu.Lock()
			r.advanceLocked(rev)
			r.mu.Unlock()
		}
		stopWatch() // after an error, the watcher may still be open
		for {
			if ctx.Err() != nil {
				return
			}
			r.n.cfg.Logger.Warn("etcd: registry watch ended; reloading", zap.String("prefix", r.prefix))
			pause := time.NewTimer(min(r.n.cfg.TTL/4, time.Second))
			select {
			case <-ctx.Done():
				pause.Stop()
				return
			case <-pause.C:
			}
			lctx, cancel := context.WithTimeout(ctx, r.n.cfg.RequestTimeout)
			var err error
			rev, err = r.load(lctx)
			cancel()
			if err == nil {
				break
			}
		}
	}
}

// put records name's entry created at rev, unless the local copy already has
// that entry or a newer one, and wakes the waiters of name.
func (r *Registry[V]) put(name string, data []byte, rev int64) {
	v, err := r.codec.Unmarshal(data)
	if err != nil {
		r.n.cfg.Logger.Warn("etcd: registry: undecodable value", zap.String("name", name), zap.Error(err))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.entries.Load(name); ok && p.(*rentry[V]).rev >= rev {
		return
	}
	r.storeLocked(name, &rentry[V]{value: v, rev: rev})
}

// drop forgets name's entry if it was created before the deletion at rev.
func (r *Registry[V]) drop(name string, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.entries.Load(name); ok && p.(*rentry[V]).rev < rev {
		r.entries.CompareAndDelete(name, p)
	}
}

func (r *Registry[V]) storeLocked(name string, e *rentry[V]) {
	r.entries.Store(name, e)
	if ch := r.waiters[name]; ch != nil {
		close(ch)
		delete(r.waiters, name)
	}
}

// Register binds name to v, cluster-wide, until ctx is done. It fails with
// an error matching [registry.ErrTaken] (a *[registry.TakenError] carrying
// the holder's value) if another live entry holds name anywhere in the
// cluster, and with [registry.ErrNilContext], [registry.ErrInvalidName] or
// ctx's error as the local registry does. It costs one round trip to etcd
// (two when it replaces this node's own entry whose context is done but
// whose removal is not through yet).
func (r *Registry[V]) Register(ctx context.Context, name string, v V) error {
	switch {
	case ctx == nil:
		return registry.ErrNilContext
	case name == "":
		return registry.ErrInvalidName
	case ctx.Err() != nil:
		return fmt.Errorf("registry: register %q: %w", name, ctx.Err())
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	data, err := r.codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("etcd: register %q: %w", name, err)
	}
	// This node's own entry for name whose context is done but whose
	// removal is not through yet: wait for the removal rather than fail.
	if p, ok := r.entries.Load(name); ok {
		if e := p.(*rentry[V]); e.removed != nil && !e.live() {
			select {
			case <-e.removed:
			case <-ctx.Done():
				return fmt.Errorf("registry: register %q: %w", name, ctx.Err())
			}
		}
	}
	key := r.prefix + name
	for {
		resp, err := r.n.cfg.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(data), clientv3.WithLease(r.n.s.id))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return fmt.Errorf("etcd: register %q: %w", name, err)
		}
		if resp.Succeeded {
			return r.registered(ctx, name, v, resp.Header.Revision)
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // deleted in between: try again
		}
		hv, err := r.codec.Unmarshal(kvs[0].Value)
		if err != nil {
			return fmt.Errorf("etcd: register %q: holder's value: %w", name, err)
		}
		return &registry.TakenError[V]{Name: name, Holder: hv}
	}
}

// registered publishes this node's new entry at once (the watch brings it
// later and is ignored) and schedules its removal for when ctx is done.
func (r *Registry[V]) registered(ctx context.Context, name string, v V, rev int64) error {
	e := &rentry[V]{value: v, rev: rev, done: ctx.Done(), removed: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed // the node's Close removes the key
	}
	if p, ok := r.entries.Load(name); !ok || p.(*rentry[V]).rev <= rev {
		r.storeLocked(name, e)
	}
	r.removals.Add(1)
	r.stops[e] = context.AfterFunc(ctx, func() {
		defer r.removals.Done()
		r.mu.Lock()
		delete(r.stops, e)
		r.mu.Unlock()
		r.unregister(name, e)
	})
	return nil
}

// unregister deletes name's key if it is still e's (guarded by its create
// revision), and forgets e locally.
func (r *Registry[V]) unregister(name string, e *rentry[V]) {
	key := r.prefix + name
	ctx, cancel := r.n.requestContext()
	defer cancel()
	_, err := r.n.cfg.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", e.rev)).
		Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		// The key stays until the node's lease ends; this node ignores
		// it already.
		r.n.cfg.Logger.Warn("etcd: registry: remove name", zap.String("name", name), zap.Error(err))
	}
	r.mu.Lock()
	r.entries.CompareAndDelete(name, e)
	r.mu.Unlock()
	close(e.removed)
}

// Lookup returns the value of the live entry for name, from the local copy.
func (r *Registry[V]) Lookup(name string) (V, bool) {
	if p, ok := r.entries.Load(name); ok {
		if e := p.(*rentry[V]); e.live() {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// Wait returns the value of the live entry for name, blocking until one is
// registered anywhere in the cluster and seen by this node's watch, or ctx
// is done (then it returns ctx.Err()).
func (r *Registry[V]) Wait(ctx context.Context, name string) (V, error) {
	var zero V
	switch {
	case ctx == nil:
		return zero, registry.ErrNilContext
	case name == "":
		return zero, registry.ErrInvalidName
	}
	for {
		if v, ok := r.Lookup(name); ok {
			return v, nil
		}
		r.mu.Lock()
		ch := r.waiters[name]
		if ch == nil {
			ch = make(chan struct{})
			r.waiters[name] = ch
		}
		r.mu.Unlock()
		// Look again: an entry stored before we held ch is visible now.
		if v, ok := r.Lookup(name); ok {
			return v, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// Names returns the sorted names of all live entries in the local copy.
func (r *Registry[V]) Names() []string {
	var names []string
	r.entries.Range(func(k, p any) bool {
		if p.(*rentry[V]).live() {
			names = append(names, k.(string))
		}
		return true
	})
	slices.Sort(names)
	return names
}

// Close stops the watch and the pending removals of this node's names and
// waits for those under way. Names whose contexts are still live stay
// registered in etcd until their contexts end elsewhere or the node is
// closed (which revokes its lease). It is safe to call more than once.
func (r *Registry[V]) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for e, stop := range r.stops {
		if stop() {
			r.removals.Done()
		}
		delete(r.stops, e)
	}
	r.mu.Unlock()
	r.cancel()
	<-r.watched
	r.removals.Wait()
	return nil
}
