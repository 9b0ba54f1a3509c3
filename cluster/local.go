package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/arborgo/arbor/child"
)

// Local is an [Elector] for the candidates of one process: at most one
// [Singleton] per name runs among the trees of the process, the others wait
// and take over when it stops. A local term is never lost (the process that
// would lose it is the one that holds it), so Margin is [child.Infinity].
// Tokens number the terms of each name from 1.
//
// The zero value is ready to use. A Local is safe for concurrent use and
// must not be copied after first use.
type Local struct {
	mu    sync.Mutex
	names map[string]*localName // guarded by mu; allocated lazily
}

// localName is the lock of one name: a one-slot semaphore, and the count of
// the terms granted so far (guarded by Local.mu).
type localName struct {
	sem  chan struct{}
	term int64
}

var _ Elector = (*Local)(nil)

// Margin returns [child.Infinity]: a local term is never lost.
func (l *Local) Margin() time.Duration { return child.Infinity }

// Campaign blocks until no other term of name is held in the process, or
// ctx is done. Candidates are not served in any particular order.
func (l *Local) Campaign(ctx context.Context, name string) (Lease, error) {
	l.mu.Lock()
	if l.names == nil {
		l.names = make(map[string]*localName)
	}
	n := l.names[name]
	if n == nil {
		n = &localName{sem: make(chan struct{}, 1)}
		l.names[name] = n
	}
	l.mu.Unlock()
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.mu.Lock()
	n.term++
	t := &localLease{n: n, tok: Token{Key: name, Revision: n.term}}
	l.mu.Unlock()
	return t, nil
}

type localLease struct {
	n    *localName
	tok  Token
	once sync.Once
}

func (t *localLease) Token() Token          { return t.tok }
func (t *localLease) Lost() <-chan struct{} { return nil }
func (t *localLease) Release(context.Context) error {
	t.once.Do(func() { <-t.n.sem })
	return nil
}
