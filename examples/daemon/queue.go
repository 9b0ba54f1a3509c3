package main

import (
	"context"
	"errors"
	"sync"
)

var (
	// errQueueClosed: the worker pool is not taking jobs (stopped, or draining).
	errQueueClosed = errors.New("queue: closed")
	// errQueueFull: every slot of the queue is taken.
	errQueueFull = errors.New("queue: full")
)

// Job asks a worker to store Value under Key.
type Job struct {
	Key   string     // where to store it
	Value string     // what to store
	done  chan error // buffered (1); receives the job's result
}

// Queue hands jobs from request handlers to the worker pool. It is open
// while the pool runs and closed when the pool starts draining: then it
// refuses new jobs and the workers empty it.
type Queue struct {
	size int

	mu     sync.Mutex
	jobs   chan Job // guarded by mu: nil until opened
	closed bool     // guarded by mu
}

func newQueue(size int) *Queue { return &Queue{size: size} }

// open gives the queue a fresh buffer and returns it for the workers.
func (q *Queue) open() <-chan Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs, q.closed = make(chan Job, q.size), false
	return q.jobs
}

// close refuses new jobs; the workers drain what is queued.
func (q *Queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.jobs != nil && !q.closed {
		q.closed = true
		close(q.jobs)
	}
}

// Enqueue queues a job for key and value and returns a channel that
// receives its result. It never blocks: the send happens under mu, so it
// cannot race with close.
func (q *Queue) Enqueue(key, value string) (<-chan error, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.jobs == nil || q.closed {
		return nil, errQueueClosed
	}
	j := Job{Key: key, Value: value, done: make(chan error, 1)}
	select {
	case q.jobs <- j:
		return j.done, nil
	default:
		return nil, errQueueFull
	}
}

// Work is what a worker does with one job; ctx ends when the drain runs out
// of time.
type Work func(ctx context.Context, s *Store, j Job) error

// storeJob is the default Work: it writes the job to the store.
func storeJob(ctx context.Context, s *Store, j Job) error {
	return s.Put(ctx, j.Key, j.Value)
}
