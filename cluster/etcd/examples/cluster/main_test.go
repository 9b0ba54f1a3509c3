package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the demo's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScript runs the scripted demo: a failover after a crash, then a
// hand-off, each to another node.
func TestScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out syncBuffer
	if code := run(ctx, []string{"-script", "-ttl", "2s", "-data", t.TempDir()}, strings.NewReader(""), &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	got := out.String()
	for _, want := range []string{"3 nodes up", "failover: node", "hand-off: node"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	t.Log("\n" + got)
}

// TestCommands drives the interactive mode: stop the leader, ask who leads,
// quit.
func TestCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out syncBuffer
	in := strings.NewReader("who\nbogus\nquit\n")
	if code := run(ctx, []string{"-ttl", "2s", "-data", t.TempDir()}, in, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if got := out.String(); !strings.Contains(got, "commands: crash N") {
		t.Errorf("no usage for a bogus command:\n%s", got)
	}
}
