package registry

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem ./registry/

// sink keeps results alive so that the compiler does not drop lookups.
var sink int

func benchRegistry(b *testing.B, names int) *Registry[int] {
	b.Helper()
	r := new(Registry[int])
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	for i := range names {
		if err := r.Register(ctx, "child-"+strconv.Itoa(i), i); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

func BenchmarkLookup(b *testing.B) {
	for _, names := range []int{1, 1000} {
		r := benchRegistry(b, names)
		b.Run("hit/names="+strconv.Itoa(names), func(b *testing.B) {
			for b.Loop() {
				v, _ := r.Lookup("child-0")
				sink += v
			}
		})
		b.Run("miss/names="+strconv.Itoa(names), func(b *testing.B) {
			for b.Loop() {
				v, _ := r.Lookup("absent")
				sink += v
			}
		})
	}
	b.Run("dead", func(b *testing.B) {
		// An entry whose context is done but whose cleanup has not run:
		// the liveness check rejects it.
		holdCleanups(b)
		var r Registry[int]
		ctx, cancel := context.WithCancel(context.Background())
		if err := r.Register(ctx, "child-0", 1); err != nil {
			b.Fatal(err)
		}
		cancel()
		for b.Loop() {
			v, _ := r.Lookup("child-0")
			sink += v
		}
	})
}

func BenchmarkLookupParallel(b *testing.B) {
	r := benchRegistry(b, 1000)
	b.Run("hit", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			s := 0
			for pb.Next() {
				v, _ := r.Lookup("child-0")
				s += v
			}
			sinkMu.Lock()
			sink += s
			sinkMu.Unlock()
		})
	})
	b.Run("miss", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok := r.Lookup("absent"); ok {
					b.Error("hit")
				}
			}
		})
	})
}

var sinkMu sync.Mutex

// BenchmarkWait measures Wait on a live name, which returns at once.
func BenchmarkWait(b *testing.B) {
	r := benchRegistry(b, 1)
	ctx := context.Background()
	for b.Loop() {
		v, _ := r.Wait(ctx, "child-0")
		sink += v
	}
}

// BenchmarkRegisterCancel is one restart as seen by the registry: a new
// incarnation's context, Register, cancel (the cleanup then runs in its own
// goroutine).
func BenchmarkRegisterCancel(b *testing.B) {
	for _, names := range []int{1, 1000} {
		b.Run("names="+strconv.Itoa(names), func(b *testing.B) {
			r := benchRegistry(b, names-1)
			i := 0
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				if err := r.Register(ctx, "restarting", i); err != nil {
					b.Fatal(err)
				}
				cancel()
				i++
			}
		})
	}
}

// The alternatives to sync.Map discussed on Registry, reduced to what a
// lookup and a register need, for comparison.

type rwMapRegistry struct {
	mu sync.RWMutex
	m  map[string]*entry[int] // guarded by mu
}

func (r *rwMapRegistry) lookup(name string) (int, bool) {
	r.mu.RLock()
	e := r.m[name]
	r.mu.RUnlock()
	if e != nil && e.live() {
		return e.value, true
	}
	return 0, false
}

type cowRegistry struct {
	mu sync.Mutex                             // serialises writers
	m  atomic.Pointer[map[string]*entry[int]] // replaced, never mutated
}

func (r *cowRegistry) lookup(name string) (int, bool) {
	if m := r.m.Load(); m != nil {
		if e := (*m)[name]; e != nil && e.live() {
			return e.value, true
		}
	}
	return 0, false
}

func (r *cowRegistry) store(name string, e *entry[int]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]*entry[int]
	if old := r.m.Load(); old != nil {
		m = maps.Clone(*old)
	} else {
		m = make(map[string]*entry[int])
	}
	m[name] = e
	r.m.Store(&m)
}

func BenchmarkAlternatives(b *testing.B) {
	const names = 1000
	live := &entry[int]{value: 1, done: make(chan struct{})}
	rw := &rwMapRegistry{m: make(map[string]*entry[int])}
	cow := &cowRegistry{}
	sm := benchRegistry(b, names)
	for i := range names {
		rw.m["child-"+strconv.Itoa(i)] = live
		cow.store("child-"+strconv.Itoa(i), live)
	}
	lookups := map[string]func(string) (int, bool){
		"syncmap": sm.Lookup,
		"rwmutex": rw.lookup,
		"cow":     cow.lookup,
	}
	for _, impl := range []string{"syncmap", "rwmutex", "cow"} {
		lookup := lookups[impl]
		b.Run("lookup-parallel/"+impl, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok := lookup("child-0"); !ok {
						b.Error("miss")
					}
				}
			})
		})
	}
	b.Run("store/cow", func(b *testing.B) {
		for b.Loop() {
			cow.store("child-0", live)
		}
	})
	b.Run("store/syncmap", func(b *testing.B) {
		for b.Loop() {
			sm.mu.Lock()
			sm.entries.Store("child-0", live)
			sm.mu.Unlock()
		}
	})
}
