// Package waitbuf is a buffer a test can wait on: a program writes its log
// to it, and the test waits until the log matches what it expects, with no
// sleeps.
package waitbuf

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Buffer collects what is written to it. The zero value is ready to use, and
// it is safe for concurrent use.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // guarded by mu: closed at the next write, if someone waits
}

// Write appends p and wakes a waiting WaitFor.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor waits until what has been written matches re, and returns the
// match (as regexp.FindStringSubmatch does). It fails t, with the output,
// if that takes longer than timeout.
func (b *Buffer) WaitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	expired := time.After(timeout)
	for {
		b.mu.Lock()
		m := re.FindStringSubmatch(b.buf.String())
		if m == nil && b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-written:
		case <-expired:
			t.Fatalf("the output never matched %v:\n%s", re, b.String())
		}
	}
}
