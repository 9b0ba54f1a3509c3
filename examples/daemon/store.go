package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// errStoreClosed is returned by a Store that is closed or not yet open.
var errStoreClosed = errors.New("store: closed")

// Store is the daemon's database-like resource: a key-value table reached
// through a fixed pool of connections. Its data outlives reconnects; its
// connections belong to one open/close cycle.
type Store struct {
	size int // connections in the pool

	mu    sync.Mutex
	data  map[string]string // guarded by mu
	conns chan struct{}     // guarded by mu: idle connections; nil while closed
}

func newStore(size int) *Store {
	return &Store{size: size, data: make(map[string]string)}
}

// open connects the pool.
func (s *Store) open() {
	conns := make(chan struct{}, s.size)
	for range s.size {
		conns <- struct{}{}
	}
	s.mu.Lock()
	s.conns = conns
	s.mu.Unlock()
}

// close stops handing out connections, then waits until every connection
// in use has been returned or ctx ends. It returns how many were still in
// use when it gave up.
func (s *Store) close(ctx context.Context) (inUse int) {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	if conns == nil {
		return 0
	}
	for got := 0; got < s.size; got++ {
		select {
		case <-conns:
		case <-ctx.Done():
			return s.size - got
		}
	}
	return 0
}

// with runs fn holding one connection.
func (s *Store) with(ctx context.Context, fn func(data map[string]string)) error {
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	if conns == nil {
		return errStoreClosed
	}
	select {
	case <-conns:
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for a connection: %w", ctx.Err())
	}
	defer func() { conns <- struct{}{} }()
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.data)
	return nil
}

// Get returns the value stored under key.
func (s *Store) Get(ctx context.Context, key string) (value string, found bool, err error) {
	err = s.with(ctx, func(data map[string]string) { value, found = data[key] })
	return value, found, err
}

// Put stores value under key.
func (s *Store) Put(ctx context.Context, key, value string) error {
	return s.with(ctx, func(data map[string]string) { data[key] = value })
}
