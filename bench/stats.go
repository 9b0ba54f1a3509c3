package main

import (
	"math"
	"runtime"
	"slices"
	"time"
)

// epoch anchors nowNS: time.Since uses the monotonic clock.
var epoch = time.Now()

// nowNS returns monotonic nanoseconds since the program started.
func nowNS() int64 { return int64(time.Since(epoch)) }

// percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of xs
// in the unit of xs. xs is not modified.
func percentile(xs []int64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return float64(s[max(0, min(i, len(s)-1))])
}

// median returns the median of xs, NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func us(ns float64) float64 { return ns / 1e3 }

// allocMeter counts heap allocations made by the whole process between
// begin and end (every goroutine, the supervisor's included).
type allocMeter struct{ mallocs, bytes uint64 }

func (a *allocMeter) begin() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	a.mallocs, a.bytes = m.Mallocs, m.TotalAlloc
}

// end returns allocations and bytes per op over n ops.
func (a *allocMeter) end(n int) (allocs, bytes float64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Mallocs-a.mallocs) / float64(n), float64(m.TotalAlloc-a.bytes) / float64(n)
}

// inUse returns HeapInuse and StackInuse after two full collections.
func inUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}
