package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/supervisor"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const testTTL = 2 * time.Second // margin 500 ms (see newNodeWith), renewals every 500 ms

// member is one node of a test cluster running one singleton.
type member struct {
	name string
	node *Node
	c    *clientv3.Client
	sup  *supervisor.Supervisor
}

// startMembers starts n nodes, each with a supervisor holding the singleton
// "job", whose child records its starts and stops in r and, on each start,
// makes a guarded write with its token.
func startMembers(t *testing.T, endpoint string, r *record, names ...string) []*member {
	t.Helper()
	var cfgs []Config
	for _, name := range names {
		cfgs = append(cfgs, Config{Name: name, TTL: testTTL})
	}
	return startMembersWith(t, endpoint, r, cfgs...)
}

func startMembersWith(t *testing.T, endpoint string, r *record, cfgs ...Config) []*member {
	t.Helper()
	var ms []*member
	for _, cfg := range cfgs {
		name := cfg.Name
		m := &member{name: name}
		m.node, m.c = newNodeWith(t, endpoint, cfg)
		svc := child.Func(func(ctx context.Context) error {
			r.start(m.name)
			err := GuardedPut(ctx, m.c, "/"+t.Name()+"/data", m.name)
			r.events <- recEvent{node: m.name, started: true, at: time.Now(), err: err}
			<-ctx.Done()
			r.stop(m.name)
			r.events <- recEvent{node: m.name, at: time.Now()}
			return nil
		})
		spec, err := cluster.Singleton(child.Spec{ID: "job", Service: svc, Shutdown: 300 * time.Millisecond}, m.node)
		if err != nil {
			t.Fatal(err)
		}
		m.sup, err = supervisor.New(name, []child.Spec{spec})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.sup.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.sup.Stop(context.Background()) })
		ms = append(ms, m)
	}
	return ms
}

func byName(ms []*member, name string) *member {
	for _, m := range ms {
		if m.name == name {
			return m
		}
	}
	return nil
}

func expectStart(t *testing.T, r *record) recEvent {
	t.Helper()
	ev := r.next(t)
	if !ev.started {
		t.Fatalf("%s stopped; want a start", ev.node)
	}
	if ev.err != nil {
		t.Fatalf("%s: guarded write with a fresh token: %v", ev.node, ev.err)
	}
	return ev
}

func expectStop(t *testing.T, r *record, node string) recEvent {
	t.Helper()
	ev := r.next(t)
	if ev.started || ev.node != node {
		t.Fatalf("got %+v; want %s to stop", ev, node)
	}
	return ev
}

// TestSingletonFailoverOnPartition: three nodes, one runs the singleton; its
// client is closed (a partition, or a crash as the others see it); it steps
// down, and another node runs the singleton within TTL plus slack, never
// while the first still runs.
func TestSingletonFailoverOnPartition(t *testing.T) {
	endpoint := startEtcd(t)
	r := newRecord()
	ms := startMembers(t, endpoint, r, "a", "b", "c")
	first := expectStart(t, r)
	leader := byName(ms, first.node)

	cut := time.Now()
	_ = leader.c.Close()
	stop := expectStop(t, r, leader.name)
	next := expectStart(t, r)
	if next.node == leader.name {
		t.Fatalf("%s promoted again after its partition", next.node)
	}
	if !stop.at.Before(next.at) {
		t.Errorf("old leader stopped at %v, new one started at %v", stop.at, next.at)
	}
	t.Logf("partition → step-down %v, → promotion elsewhere %v (TTL %v)", stop.at.Sub(cut), next.at.Sub(cut), testTTL)
	r.check(t)
}

// TestSingletonStepsDownWhenKeepAlivesPause: the leader's renewals stop but
// its child does not: the child is stopped once TTL minus Margin has passed
// without a renewal, before another node is promoted.
func TestSingletonStepsDownWhenKeepAlivesPause(t *testing.T) {
	endpoint := startEtcd(t)
	r := newRecord()
	ms := startMembers(t, endpoint, r, "a", "b")
	first := expectStart(t, r)
	leader := byName(ms, first.node)

	pause := time.Now()
	leader.node.pauseKeepAlives.Store(true)
	stop := expectStop(t, r, leader.name)
	// The paused node may win again (its new campaign session is good
	// until its first renewal is due) and step down again: wait for
	// another node, the record checking that no two copies overlap.
	next := expectStart(t, r)
	for next.node == leader.name {
		expectStop(t, r, leader.name)
		next = expectStart(t, r)
	}
	if !stop.at.Before(next.at) {
		t.Errorf("old leader stopped at %v, new one started at %v", stop.at, next.at)
	}
	t.Logf("pause → step-down %v, → promotion elsewhere %v", stop.at.Sub(pause), next.at.Sub(pause))
	r.check(t)
}

// TestSingletonHandOff: stopping the leader's supervisor stops its child,
// waits for it, then resigns; the next node starts only after.
func TestSingletonHandOff(t *testing.T) {
	endpoint := startEtcd(t)
	r := newRecord()
	ms := startMembers(t, endpoint, r, "a", "b", "c")
	first := expectStart(t, r)
	leader := byName(ms, first.node)

	asked := time.Now()
	stopped := make(chan error, 1)
	// Ends when the leader's supervisor has stopped.
	go func() { stopped <- leader.sup.Stop(context.Background()) }()
	stop := expectStop(t, r, leader.name)
	next := expectStart(t, r)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !stop.at.Before(next.at) {
		t.Errorf("old leader stopped at %v, new one started at %v", stop.at, next.at)
	}
	t.Logf("hand-off: stop asked → old stopped %v → new started %v", stop.at.Sub(asked), next.at.Sub(asked))
	r.check(t)
}

// TestStaleTokenRejected: after a hand-off, a write guarded by the old term's
// token is refused, the new term's is accepted.
func TestStaleTokenRejected(t *testing.T) {
	endpoint := startEtcd(t)
	n, c := newNode(t, endpoint, "a", testTTL)
	m, _ := newNode(t, endpoint, "b", testTTL)
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()

	l1, err := n.Campaign(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	won := make(chan cluster.Lease, 1)
	// Ends when b is promoted, once l1 is released below.
	go func() {
		l, err := m.Campaign(ctx, "job")
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	if _, err := GuardedTxn(ctx, c, l1.Token(), clientv3.OpPut("/x", "1")); err != nil {
		t.Fatalf("write with the current token: %v", err)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2 := <-won
	if l2 == nil {
		t.FailNow()
	}
	defer func() { _ = l2.Release(ctx) }()
	if l2.Token().Revision <= l1.Token().Revision {
		t.Errorf("new token %v not above old %v", l2.Token(), l1.Token())
	}
	if _, err := GuardedTxn(ctx, c, l1.Token(), clientv3.OpPut("/x", "stale")); !errors.Is(err, ErrFenced) {
		t.Errorf("write with the old token: %v; want ErrFenced", err)
	}
	if _, err := GuardedTxn(ctx, c, l2.Token(), clientv3.OpPut("/x", "2")); err != nil {
		t.Errorf("write with the new token: %v", err)
	}
	if err := GuardedPut(ctx, c, "/x", "3"); !errors.Is(err, ErrFenced) {
		t.Errorf("GuardedPut without a token: %v; want ErrFenced", err)
	}
}

// TestCampaignEndsWithItsSession: a candidate whose own lease is lost while
// it waits does not win when the leader resigns later (etcd-io/etcd#19597):
// its campaign starts again on a new session and wins only with a verified
// key.
func TestCampaignEndsWithItsSession(t *testing.T) {
	endpoint := startEtcd(t)
	n, _ := newNode(t, endpoint, "a", testTTL)
	m, _ := newNode(t, endpoint, "b", testTTL)
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	l1, err := n.Campaign(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	// Watch the candidates' keys, to see b's first session lapse.
	wch := n.cfg.Client.Watch(ctx, n.electionPrefix("job"), clientv3.WithPrefix())
	won := make(chan cluster.Lease, 1)
	m.pauseKeepAlives.Store(true) // b's campaign sessions will lapse
	// Ends when b is promoted, after l1's release below.
	go func() {
		l, err := m.Campaign(ctx, "job")
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	// b's candidate key appears, then vanishes with its lease while l1
	// still leads.
	var candidate string
	for lapsed := false; !lapsed; {
		wr, ok := <-wch
		if !ok {
			t.Fatal("watch closed")
		}
		for _, ev := range wr.Events {
			switch k := string(ev.Kv.Key); {
			case ev.Type == clientv3.EventTypePut && candidate == "":
				candidate = k
			case ev.Type == clientv3.EventTypeDelete && k == candidate:
				lapsed = true
			}
		}
	}
	m.pauseKeepAlives.Store(false)
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2 := <-won
	if l2 == nil {
		t.FailNow()
	}
	defer func() { _ = l2.Release(ctx) }()
	g, err := m.cfg.Client.Get(ctx, l2.Token().Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Kvs) != 1 || g.Kvs[0].CreateRevision != l2.Token().Revision {
		t.Fatalf("won term %v without its key: %v", l2.Token(), g.Kvs)
	}
	select {
	case <-l2.Lost():
		t.Fatal("won term already lost")
	default:
	}
}

// TestSingletonTakeoverByPriority: a node of higher priority that joins
// takes the singleton over: the leader stops its child and resigns, and the
// new node starts only after; a candidate queued before it gives way.
func TestSingletonTakeoverByPriority(t *testing.T) {
	endpoint := startEtcd(t)
	r := newRecord()
	startMembersWith(t, endpoint, r, Config{Name: "low", TTL: testTTL})
	if ev := expectStart(t, r); ev.node != "low" {
		t.Fatalf("%s started; want low", ev.node)
	}
	startMembersWith(t, endpoint, r, Config{Name: "mid", TTL: testTTL, Priority: 1})
	stop := expectStop(t, r, "low")
	next := expectStart(t, r)
	if next.node != "mid" || !stop.at.Before(next.at) {
		t.Fatalf("after low stopped at %v: %s started at %v; want mid, after", stop.at, next.node, next.at)
	}
	// low campaigns again; if it is queued before high, it must give way.
	startMembersWith(t, endpoint, r, Config{Name: "high", TTL: testTTL, Priority: 2})
	expectStop(t, r, "mid")
	if ev := expectStart(t, r); ev.node != "high" {
		t.Fatalf("%s started; want high (low, queued first, must give way)", ev.node)
	}
	r.check(t)
}
