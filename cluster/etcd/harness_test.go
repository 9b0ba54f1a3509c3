package etcd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/cluster/etcd/internal/etcdtest"
)

// failAfter bounds every wait in these tests. It is a failure timeout only,
// never a measure: generous for a loaded 2-core machine.
const failAfter = 30 * time.Second

// startEtcd starts a single-member embedded etcd tuned for tests (fast ticks,
// no fsync) and returns its client URL. It is closed at the end of the test,
// after every client (their cleanups are registered later, so run first:
// embed.Close waits 7 s for a client still connected).
func startEtcd(t testing.TB) string {
	t.Helper()
	return etcdtest.Start(t, failAfter)
}

// newClient returns a client of the server at endpoint, closed at the end of
// the test (before the server).
func newClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newNode opens a node with its own client; both are closed at the end of
// the test, the node first.
func newNode(t testing.TB, endpoint, name string, ttl time.Duration) (*Node, *clientv3.Client) {
	t.Helper()
	return newNodeWith(t, endpoint, Config{Name: name, TTL: ttl})
}

// newNodeWith is newNode with more of the Config set; Client and Prefix are
// filled in.
func newNodeWith(t testing.TB, endpoint string, cfg Config) (*Node, *clientv3.Client) {
	t.Helper()
	c := newClient(t, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	cfg.Client, cfg.Prefix = c, "/"+t.Name()+"/"
	if cfg.Margin == 0 {
		// A quarter of the TTL rather than the default six tenths: a
		// step-down after TTL - Margin without a renewal (1.5 s for 2 s),
		// which a loaded 2-core machine running the race detector does
		// not reach by accident.
		cfg.Margin = cfg.TTL / 4
	}
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, c
}

// record is a shared log of the instants at which each node's copy of a
// singleton started and stopped, which checks that copies never overlap.
type record struct {
	mu      sync.Mutex
	running string // the node running the singleton, "" if none
	overlap []string
	events  chan recEvent
}

type recEvent struct {
	node    string
	started bool
	at      time.Time
	err     error // for a start: the error of the guarded write made with the token
}

func newRecord() *record { return &record{events: make(chan recEvent, 64)} }

func (r *record) start(node string) {
	r.mu.Lock()
	if r.running != "" {
		r.overlap = append(r.overlap, fmt.Sprintf("%s started while %s runs", node, r.running))
	}
	r.running = node
	r.mu.Unlock()
}

func (r *record) stop(node string) {
	r.mu.Lock()
	if r.running == node {
		r.running = ""
	}
	r.mu.Unlock()
}

// next waits for the next start or stop.
func (r *record) next(t testing.TB) recEvent {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(failAfter):
		t.Fatal("timed out waiting for a singleton to start or stop")
		return recEvent{}
	}
}

func (r *record) check(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.overlap {
		t.Error("overlap:", o)
	}
}

// crash stops renewing the node's session without revoking it, as a
// crashed process would. Its names vanish once the lease expires.
func (n *Node) crash() { _ = n.s.close(context.Background(), false) }

// newRegistry builds a registry of strings on n, closed at the end of the
// test before the node.
func newRegistry(t testing.TB, n *Node) *Registry[string] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	r, err := NewRegistry[string](ctx, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
