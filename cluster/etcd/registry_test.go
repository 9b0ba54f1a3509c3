package etcd

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arborgo/arbor/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	t.Cleanup(cancel)
	return ctx
}

func syncAll(t *testing.T, ctx context.Context, rs ...*Registry[string]) {
	t.Helper()
	for _, r := range rs {
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRegistryFirstWriterWins: a name held on one node is refused on
// another, with the holder's value; once the holder's incarnation ends, the
// other node can take it.
func TestRegistryFirstWriterWins(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	nb, _ := newNode(t, endpoint, "b", testTTL)
	ra, rb := newRegistry(t, na), newRegistry(t, nb)
	ctx := testCtx(t)

	inc, end := context.WithCancel(ctx)
	if err := ra.Register(inc, "db", "a:5432"); err != nil {
		t.Fatal(err)
	}
	err := rb.Register(ctx, "db", "b:5432")
	var taken *registry.TakenError[string]
	if !errors.As(err, &taken) || taken.Holder != "a:5432" || !errors.Is(err, registry.ErrTaken) {
		t.Fatalf("Register on b = %v; want a TakenError held by a:5432", err)
	}
	syncAll(t, ctx, rb)
	if v, ok := rb.Lookup("db"); !ok || v != "a:5432" {
		t.Fatalf("b: Lookup = %q, %v; want a:5432", v, ok)
	}

	end()
	if _, ok := ra.Lookup("db"); ok {
		t.Fatal("a: entry still found after its incarnation ended")
	}
	ra.Close() // waits for the removal under way
	syncAll(t, ctx, rb)
	if _, ok := rb.Lookup("db"); ok {
		t.Fatal("b: entry still found after its removal")
	}
	if err := rb.Register(ctx, "db", "b:5432"); err != nil {
		t.Fatalf("Register on b after a's end = %v", err)
	}
}

// TestRegistryReRegisterAfterEnd: on the node that registered, the end of an
// incarnation frees the name at once, and the old entry's removal never
// deletes its successor's.
func TestRegistryReRegisterAfterEnd(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	nb, _ := newNode(t, endpoint, "b", testTTL)
	ra, rb := newRegistry(t, na), newRegistry(t, nb)
	ctx := testCtx(t)

	for i, v := range []string{"one", "two", "three"} {
		inc, end := context.WithCancel(ctx)
		if err := ra.Register(inc, "svc", v); err != nil {
			t.Fatalf("incarnation %d: %v", i, err)
		}
		if got, ok := ra.Lookup("svc"); !ok || got != v {
			t.Fatalf("a: Lookup = %q, %v; want %q", got, ok, v)
		}
		if v == "three" {
			t.Cleanup(end)
			break
		}
		end()
	}
	ra.Close() // every removal scheduled has run
	syncAll(t, ctx, rb)
	if got, ok := rb.Lookup("svc"); !ok || got != "three" {
		t.Fatalf("b: Lookup = %q, %v; want three (a stale removal deleted it?)", got, ok)
	}
}

// TestRegistryWaitAcrossNodes: Wait on one node wakes when another node
// registers the name.
func TestRegistryWaitAcrossNodes(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	nb, _ := newNode(t, endpoint, "b", testTTL)
	ra, rb := newRegistry(t, na), newRegistry(t, nb)
	ctx := testCtx(t)

	got := make(chan string, 1)
	// Ends when a registers the name below (or the test's context ends).
	go func() {
		v, err := rb.Wait(ctx, "queue")
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	if err := ra.Register(ctx, "queue", "a:9000"); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "a:9000" {
		t.Fatalf("Wait on b = %q; want a:9000", v)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := rb.Wait(wctx, "nobody"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait for an absent name = %v; want DeadlineExceeded", err)
	}
}

// TestRegistryNamesVanishWithNode: a node that stops renewing its session
// (a crash) loses all its names once its lease expires; the other nodes'
// names stay.
func TestRegistryNamesVanishWithNode(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	nb, cb := newNode(t, endpoint, "b", testTTL)
	ra, rb := newRegistry(t, na), newRegistry(t, nb)
	ctx := testCtx(t)

	for _, name := range []string{"x", "y"} {
		if err := ra.Register(ctx, name, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := rb.Register(ctx, "z", "b"); err != nil {
		t.Fatal(err)
	}
	syncAll(t, ctx, rb)
	if got := rb.Names(); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("b: Names = %v", got)
	}
	crashed := time.Now()
	wch := cb.Watch(ctx, nb.cfg.Prefix+"names/y")
	na.crash()
	<-na.Done()
	for gone := false; !gone; {
		wr := <-wch
		for _, ev := range wr.Events {
			gone = gone || ev.Type == clientv3.EventTypeDelete
		}
		if wr.Err() != nil {
			t.Fatal(wr.Err())
		}
	}
	t.Logf("crash → names gone after %v (TTL %v)", time.Since(crashed), testTTL)
	syncAll(t, ctx, rb)
	if got := rb.Names(); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("b: Names after a's crash = %v; want [z]", got)
	}
	if err := ra.Register(ctx, "w", "a"); err == nil {
		t.Fatal("Register on a crashed node succeeded")
	}
}

// TestRegistryMisuse: the errors of the local registry.
func TestRegistryMisuse(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	ra := newRegistry(t, na)
	ctx := testCtx(t)
	//lint:ignore SA1012 checking the nil-context error
	if err := ra.Register(nil, "x", "v"); !errors.Is(err, registry.ErrNilContext) {
		t.Errorf("nil ctx: %v", err)
	}
	if err := ra.Register(ctx, "", "v"); !errors.Is(err, registry.ErrInvalidName) {
		t.Errorf("empty name: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := ra.Register(done, "x", "v"); !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: %v", err)
	}
}

// TestNodeRidesOutAHiccup: renewals that stop for longer than TTL minus
// Margin but shorter than the TTL make a singleton's term step down, but
// cost the node neither its session nor its names: renewals resume.
func TestNodeRidesOutAHiccup(t *testing.T) {
	renewed := make(chan clientv3.LeaseID, 256)
	testHookRenewed = func(id clientv3.LeaseID) {
		select {
		case renewed <- id:
		default:
		}
	}
	t.Cleanup(func() { testHookRenewed = nil }) // after the node's cleanups
	endpoint := startEtcd(t)
	// Margin 3 s: renewals every 667 ms, the term steps down after 2 s
	// without one, and the node's lease lives until at least 4.3 s after
	// the pause; renewals resume by 2.7 s.
	na, c := newNodeWith(t, endpoint, Config{Name: "a", TTL: 5 * time.Second, Margin: 3 * time.Second})
	ra := newRegistry(t, na)
	ctx := testCtx(t)
	if err := ra.Register(ctx, "x", "a"); err != nil {
		t.Fatal(err)
	}
	term, err := na.Campaign(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = term.Release(ctx) }()

	na.pauseKeepAlives.Store(true)
	<-term.Lost() // TTL - Margin without a renewal: the term steps down
	select {
	case <-na.Done():
		t.Fatal("the node's session ended with the term's")
	default:
	}
	for len(renewed) > 0 { // renewals from before the pause
		<-renewed
	}
	na.pauseKeepAlives.Store(false)
	for resumed := false; !resumed; {
		select {
		case id := <-renewed:
			resumed = id == na.s.id
		case <-time.After(failAfter):
			t.Fatal("renewals did not resume")
		}
	}
	select {
	case <-na.Done():
		t.Fatal("the node's session ended")
	default:
	}
	ttlResp, err := c.TimeToLive(ctx, na.s.id)
	if err != nil || ttlResp.TTL <= 0 {
		t.Fatalf("node's lease: TTL %v, %v", ttlResp.TTL, err)
	}
	if err := ra.Register(ctx, "y", "a"); err != nil {
		t.Fatalf("Register after the hiccup: %v", err)
	}
	if _, ok := ra.Lookup("x"); !ok {
		t.Fatal("x lost in the hiccup")
	}
}
