package escalation

import (
	"testing"
	"time"
)

// TestWindowMemoryBound checks the a6 cost rule from the inside: the ring
// holds at most MaxRestarts+1 events at most MaxTimes times, in time order,
// however many events are recorded and however large MaxRestarts is, and
// never more than the window needs.
func TestWindowMemoryBound(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		limit   Intensity
		spacing time.Duration
		events  int
		maxRing int // bound on len(ring)
		maxHeld int // bound on the timestamps held
	}{
		{"intensity 0", Intensity{MaxRestarts: 0, Period: time.Hour}, 0, 10_000, 4, 1},
		{"intensity 3 same instant", Intensity{MaxRestarts: 3, Period: time.Hour}, 0, 10_000, 4, 4},
		{"intensity 5 same instant", Intensity{MaxRestarts: 5, Period: time.Hour}, 0, 10_000, 8, 6},
		{"huge intensity, 1001 in window", Intensity{MaxRestarts: 1_000_000, Period: time.Second}, time.Millisecond, 100_000, 1024, 1001},
		{"spaced beyond period", Intensity{MaxRestarts: 1000, Period: time.Second}, time.Second + 1, 10_000, 4, 1},
		{"huge intensity, 100k distinct times in window", Intensity{MaxRestarts: 1_000_000_000, Period: 50 * time.Millisecond}, time.Microsecond, 100_000, 2 * MaxTimes, 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(tt.limit)
			now := t0
			for range tt.events {
				w.Record(now)
				if w.count > tt.limit.MaxRestarts+1 || w.count > tt.maxHeld || w.length > MaxTimes+1 {
					t.Fatalf("holds %d events at %d times, want at most %d events at %d times", w.count, w.length, min(tt.maxHeld, tt.limit.MaxRestarts+1), MaxTimes)
				}
				now = now.Add(tt.spacing)
			}
			if len(w.ring) > tt.maxRing {
				t.Errorf("ring grew to %d, want at most %d", len(w.ring), tt.maxRing)
			}
			if n := len(w.ring); n&(n-1) != 0 {
				t.Errorf("ring length %d is not a power of two", n)
			}
			for i := 1; i < w.length; i++ {
				if w.at(i).t.Before(w.at(i - 1).t) {
					t.Fatalf("ring out of order at %d: %v before %v", i, w.at(i), w.at(i-1))
				}
			}
			// Slots outside the held range are cleared.
			for i := w.length; i < len(w.ring); i++ {
				if k := (w.head + i) & (len(w.ring) - 1); w.ring[k] != (slot{}) {
					t.Fatalf("slot %d outside the held range is not cleared", k)
				}
			}
			w.Reset()
			for i, ts := range w.ring {
				if ts != (slot{}) {
					t.Fatalf("slot %d not cleared by Reset", i)
				}
			}
		})
	}
}
