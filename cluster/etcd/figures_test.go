package etcd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestFigures measures what docs/cluster.md reports. It runs only with
// ARBOR_CLUSTER_FIGURES=1 (about a minute):
//
//	ARBOR_CLUSTER_FIGURES=1 go test -run TestFigures -v .
func TestFigures(t *testing.T) {
	if os.Getenv("ARBOR_CLUSTER_FIGURES") == "" {
		t.Skip("set ARBOR_CLUSTER_FIGURES=1 to measure")
	}
	const runs = 5
	for _, ttl := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		var down, up []time.Duration
		for i := range runs {
			t.Run(fmt.Sprintf("failover-ttl%v-%d", ttl, i), func(t *testing.T) {
				endpoint := startEtcd(t)
				r := newRecord()
				ms := startMembersWith(t, endpoint, r, Config{Name: "a", TTL: ttl, Margin: ttl / 2},
					Config{Name: "b", TTL: ttl, Margin: ttl / 2})
				leader := byName(ms, expectStart(t, r).node)
				cut := time.Now()
				_ = leader.c.Close()
				stop := expectStop(t, r, leader.name)
				next := expectStart(t, r)
				down = append(down, stop.at.Sub(cut))
				up = append(up, next.at.Sub(cut))
				r.check(t)
			})
		}
		t.Logf("TTL %v, margin %v: partition → old leader's child stopped: median %v (min %v, max %v); → new leader's child started: median %v (min %v, max %v)",
			ttl, ttl/2, median(down), slices.Min(down), slices.Max(down), median(up), slices.Min(up), slices.Max(up))
	}

	var handoff []time.Duration
	t.Run("handoff", func(t *testing.T) {
		endpoint := startEtcd(t)
		r := newRecord()
		var cfgs []Config
		for i := range 21 {
			cfgs = append(cfgs, Config{Name: fmt.Sprint("n", i), TTL: 2 * time.Second})
		}
		ms := startMembersWith(t, endpoint, r, cfgs...)
		leader := byName(ms, expectStart(t, r).node)
		for range 20 {
			asked := time.Now()
			stopped := make(chan error, 1)
			// Ends when the leader's supervisor has stopped.
			go func() { stopped <- leader.sup.Stop(context.Background()) }()
			expectStop(t, r, leader.name)
			next := expectStart(t, r)
			handoff = append(handoff, next.at.Sub(asked))
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			leader = byName(ms, next.node)
		}
		r.check(t)
	})
	t.Logf("hand-off (stop asked → child stopped → lease revoked → next leader's child started), 20 runs: median %v (min %v, max %v)",
		median(handoff), slices.Min(handoff), slices.Max(handoff))

	t.Run("visibility", func(t *testing.T) {
		endpoint := startEtcd(t)
		na, _ := newNode(t, endpoint, "a", 2*time.Second)
		nb, _ := newNode(t, endpoint, "b", 2*time.Second)
		ra, rb := newRegistry(t, na), newRegistry(t, nb)
		ctx := testCtx(t)
		var seen []time.Duration
		for i := range 50 {
			name := fmt.Sprint("v", i)
			got := make(chan time.Time, 1)
			// Ends when a registers the name.
			go func() {
				if _, err := rb.Wait(ctx, name); err != nil {
					t.Error(err)
				}
				got <- time.Now()
			}()
			start := time.Now()
			if err := ra.Register(ctx, name, "x"); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, (<-got).Sub(start))
		}
		t.Logf("Register on a → Wait returns on b, 50 runs: median %v (min %v, max %v)", median(seen), slices.Min(seen), slices.Max(seen))
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkRegistryLookup: a lookup is served from the local copy.
func BenchmarkRegistryLookup(b *testing.B) {
	endpoint := startEtcd(b)
	n, _ := newNode(b, endpoint, "a", 2*time.Second)
	r := newRegistry(b, n)
	if err := r.Register(context.Background(), "db", "a:5432"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := r.Lookup("db"); !ok {
				b.Fatal("not found")
			}
		}
	})
}

// BenchmarkRegistryRegister: one registration's round trip to etcd (a
// transaction), then its removal when its context ends (another, off the
// caller's path).
func BenchmarkRegistryRegister(b *testing.B) {
	endpoint := startEtcd(b)
	n, _ := newNode(b, endpoint, "a", 2*time.Second)
	r := newRegistry(b, n)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ctx, cancel := context.WithCancel(context.Background())
		if err := r.Register(ctx, fmt.Sprint("n", i), "v"); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}
