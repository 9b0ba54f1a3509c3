package main

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/arborgo/arbor/registry"
)

// lookupNames is the number of registered names; lookups cycle through them.
const lookupNames = 1024

type lookuper interface{ lookup(name string) (int, bool) }

type arborReg struct{ r *registry.Registry[int] }

func (a arborReg) lookup(name string) (int, bool) { return a.r.Lookup(name) }

type rwMap struct {
	mu sync.RWMutex
	m  map[string]int
}

func (r *rwMap) lookup(name string) (int, bool) {
	r.mu.RLock()
	v, ok := r.m[name]
	r.mu.RUnlock()
	return v, ok
}

type syncMap struct{ m sync.Map }

func (s *syncMap) lookup(name string) (int, bool) {
	v, ok := s.m.Load(name)
	if !ok {
		return 0, false
	}
	return v.(int), true
}

// newLookuper fills one variant with lookupNames names. Arbor's entries are
// registered, as a child would register them, each with a cancellable context
// of its own (never cancelled here), so every lookup is a hit on a live entry
// whose liveness check is a non-blocking receive on an open channel.
func newLookuper(variant string, names []string) lookuper {
	switch variant {
	case "arbor":
		r := &registry.Registry[int]{}
		for i, n := range names {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			if err := r.Register(ctx, n, i); err != nil {
				panic(err)
			}
		}
		return arborReg{r}
	case "rwmutex":
		m := &rwMap{m: make(map[string]int, len(names))}
		for i, n := range names {
			m.m[n] = i
		}
		return m
	case "syncmap":
		m := &syncMap{}
		for i, n := range names {
			m.m.Store(n, i)
		}
		return m
	}
	panic("unknown variant " + variant)
}

// cancels keeps the registration contexts alive for the whole figure.
var cancels []context.CancelFunc

// sink keeps the lookups from being optimised away.
var sink int

// lookupLoop performs n lookups cycling through names and returns a checksum.
func lookupLoop(l lookuper, names []string, n, offset int) int {
	sum := 0
	mask := len(names) - 1
	for i := range n {
		v, ok := l.lookup(names[(i+offset)&mask])
		if !ok {
			panic("lookup missed")
		}
		sum += v
	}
	return sum
}

// figLookup is figure 7: the cost of one hit, from one goroutine (serial) and
// from GOMAXPROCS goroutines at once (parallel: per goroutine, and wall time
// per lookup over all of them). Median of rounds. The slowdown is a reader's
// cost in parallel over its cost alone: 1 means readers do not interfere.
func figLookup(cfg config, variant string) (map[string]float64, error) {
	n, rounds := 2_000_000, 7
	if cfg.quick {
		n, rounds = 1_000_000, 3
	}
	names := make([]string, lookupNames)
	for i := range names {
		names[i] = "service/" + strconv.Itoa(i)
	}
	l := newLookuper(variant, names)
	sink += lookupLoop(l, names, n/4, 0) // warm-up
	procs := runtime.GOMAXPROCS(0)
	var serial, perG, wall, slow []float64
	for range rounds {
		t0 := time.Now()
		sink += lookupLoop(l, names, n, 0)
		serial = append(serial, float64(time.Since(t0))/float64(n))

		var wg sync.WaitGroup
		sums := make([]int, procs)
		gate := make(chan struct{})
		for g := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				sums[g] = lookupLoop(l, names, n, g*lookupNames/procs)
			}()
		}
		t0 = time.Now()
		close(gate)
		wg.Wait()
		el := float64(time.Since(t0))
		for _, s := range sums {
			sink += s
		}
		perG = append(perG, el/float64(n))
		wall = append(wall, el/float64(n*procs))
		// Serial and parallel rounds run back to back, so their ratio is
		// less exposed to other load on a shared machine than the medians.
		slow = append(slow, perG[len(perG)-1]/serial[len(serial)-1])
	}
	return map[string]float64{
		"serial_ns":     median(serial),
		"parallel_g_ns": median(perG),
		"parallel_ns":   median(wall),
		"slowdown":      median(slow),
		"procs":         float64(procs),
	}, nil
}
