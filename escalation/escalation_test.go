package escalation_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/escalation"
)

// t0 is an arbitrary origin; tests use explicit timestamps relative to it.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestIntensityValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        escalation.Intensity
		wantField string // "" means valid
	}{
		{"default", escalation.Default, ""},
		{"zero restarts", escalation.Intensity{MaxRestarts: 0, Period: time.Second}, ""},
		{"1ns period", escalation.Intensity{MaxRestarts: 3, Period: 1}, ""},
		{"large", escalation.Intensity{MaxRestarts: 1 << 30, Period: time.Hour}, ""},
		{"negative restarts", escalation.Intensity{MaxRestarts: -1, Period: time.Second}, "MaxRestarts"},
		{"zero period", escalation.Intensity{MaxRestarts: 1}, "Period"},
		{"negative period", escalation.Intensity{MaxRestarts: 1, Period: -time.Second}, "Period"},
		{"zero value", escalation.Intensity{}, "Period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, escalation.ErrInvalidIntensity) {
				t.Fatalf("Validate() = %v, want ErrInvalidIntensity", err)
			}
			if errors.Is(err, escalation.ErrExceeded) {
				t.Error("validation error matches ErrExceeded")
			}
			if !strings.Contains(err.Error(), tt.wantField+" = ") {
				t.Errorf("Validate() = %q, want it to name %s", err, tt.wantField)
			}
		})
	}
}

// TestDefault checks OTP's defaults (a1): intensity 1, period 5 s.
func TestDefault(t *testing.T) {
	if escalation.Default.MaxRestarts != 1 || escalation.Default.Period != 5*time.Second {
		t.Errorf("Default = %v, want 1 in 5s", escalation.Default)
	}
	if got := escalation.Default.String(); got != "1 in 5s" {
		t.Errorf("String() = %q, want \"1 in 5s\"", got)
	}
	w := escalation.NewWindow(escalation.Default)
	if w.Intensity() != escalation.Default {
		t.Errorf("Intensity() = %v, want %v", w.Intensity(), escalation.Default)
	}
}

// step is one call on a Window: Record at a time, and the verdict expected.
type step struct {
	at   time.Duration
	want bool
}

// TestWindowRecord covers a6 and a14.1: the supervisor gives up on restart
// MaxRestarts+1 inside the window; MaxRestarts 0 means never restart; the
// boundary is inclusive.
func TestWindowRecord(t *testing.T) {
	tests := []struct {
		name  string
		limit escalation.Intensity
		steps []step
	}{
		{"intensity 0: first restart gives up",
			escalation.Intensity{MaxRestarts: 0, Period: time.Second},
			[]step{{0, false}}},
		{"intensity 0: still gives up much later",
			escalation.Intensity{MaxRestarts: 0, Period: time.Second},
			[]step{{0, false}, {time.Hour, false}}},
		{"defaults: second restart within 5s gives up",
			escalation.Default,
			[]step{{0, true}, {4 * time.Second, false}}},
		{"defaults: second restart at the same instant",
			escalation.Default,
			[]step{{0, true}, {0, false}}},
		{"defaults: second restart exactly 5s later still counts",
			escalation.Default,
			[]step{{0, true}, {5 * time.Second, false}}},
		{"defaults: second restart 5s+1ns later is fine",
			escalation.Default,
			[]step{{0, true}, {5*time.Second + 1, true}}},
		// SUITE one_for_one: {one_for_one, 2, 3600}; the third crash ends it.
		{"intensity 2: third restart gives up",
			escalation.Intensity{MaxRestarts: 2, Period: 3600 * time.Second},
			[]step{{0, true}, {time.Second, true}, {2 * time.Second, false}}},
		{"intensity 2: boundary inclusive for the oldest",
			escalation.Intensity{MaxRestarts: 2, Period: 10 * time.Second},
			[]step{{0, true}, {5 * time.Second, true}, {10 * time.Second, false}}},
		{"intensity 2: oldest expired by 1ns",
			escalation.Intensity{MaxRestarts: 2, Period: 10 * time.Second},
			[]step{{0, true}, {5 * time.Second, true}, {10*time.Second + 1, true}, {15 * time.Second, false}}},
		{"intensity 3: sliding",
			escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second},
			[]step{
				{0, true}, {2 * time.Second, true}, {4 * time.Second, true},
				{10*time.Second + 1, true}, // 0 expired: 2, 4, 10+ remain
				{12 * time.Second, false},  // 2, 4, 10+, 12: four in [2, 12]
				{14*time.Second + 1, true}, // 2 and 4 expired: 10+, 12, 14+ remain
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := escalation.NewWindow(tt.limit)
			for i, s := range tt.steps {
				if got := w.Record(at(s.at)); got != s.want {
					t.Fatalf("step %d: Record(t0+%v) = %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

// TestWindowBoundary checks the inclusive boundary of a6 for several periods:
// an event exactly Period old still counts, one Period+1ns old does not.
func TestWindowBoundary(t *testing.T) {
	periods := []time.Duration{1, time.Millisecond, time.Second, 5 * time.Second, 3 * time.Hour}
	for _, p := range periods {
		ages := []struct {
			age    time.Duration
			counts bool
		}{
			{0, true},
			{1, true},
			{p - 1, true},
			{p, true},
			{p + 1, false},
			{2 * p, false},
		}
		for _, a := range ages {
			t.Run(fmt.Sprintf("period %v/age %v", p, a.age), func(t *testing.T) {
				w := escalation.NewWindow(escalation.Intensity{MaxRestarts: 1, Period: p})
				if !w.Record(t0) {
					t.Fatal("first Record = false")
				}
				if got := w.Len(t0.Add(a.age)); got != 1 && a.counts || got != 0 && !a.counts {
					t.Errorf("Len at age %v = %d, counts %v", a.age, got, a.counts)
				}
				// The second restart is refused exactly when the first still counts.
				if got := w.Record(t0.Add(a.age)); got != !a.counts {
					t.Errorf("Record at age %v = %v, want %v", a.age, got, !a.counts)
				}
			})
		}
	}
}

// TestWindowSpaced checks that events spaced beyond what the limit allows
// never trip it, and that spacing one step tighter does.
func TestWindowSpaced(t *testing.T) {
	const period = 6 * time.Second
	tests := []struct {
		name        string
		max         int
		spacing     time.Duration
		firstRefuse int // index of the first refused event, -1 for none
	}{
		{"1 in period, spaced period+1ns", 1, period + 1, -1},
		{"1 in period, spaced 2 periods", 1, 2 * period, -1},
		{"1 in period, spaced exactly period", 1, period, 1},
		{"2 in period, spaced period/2+1ns", 2, period/2 + 1, -1},
		{"2 in period, spaced period/2", 2, period / 2, 2},
		{"3 in period, spaced period/3+1ns", 3, period/3 + 1, -1},
		{"3 in period, spaced period/3", 3, period / 3, 3},
		{"5 in period, spaced 0", 5, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := escalation.NewWindow(escalation.Intensity{MaxRestarts: tt.max, Period: period})
			now := t0
			for i := range 10_000 {
				got := w.Record(now)
				want := tt.firstRefuse < 0 || i < tt.firstRefuse
				if got != want {
					t.Fatalf("event %d at t0+%v: Record = %v, want %v", i, now.Sub(t0), got, want)
				}
				if !want {
					return
				}
				now = now.Add(tt.spacing)
			}
		})
	}
}

func TestWindowLen(t *testing.T) {
	type op struct {
		record bool // Record at the time, else Len
		at     time.Duration
		want   int // Len result, or 1/0 for Record true/false
	}
	rec := func(d time.Duration, ok bool) op {
		w := 0
		if ok {
			w = 1
		}
		return op{true, d, w}
	}
	length := func(d time.Duration, n int) op { return op{false, d, n} }
	tests := []struct {
		name  string
		limit escalation.Intensity
		ops   []op
	}{
		{"empty", escalation.Default, []op{length(0, 0), length(time.Hour, 0)}},
		{"three events age out", escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second}, []op{
			rec(0, true), rec(time.Second, true), rec(2*time.Second, true),
			length(2*time.Second, 3),
			length(10*time.Second, 3), // the event at 0 is exactly Period old
			length(10*time.Second+1, 2),
			length(11*time.Second, 2),
			length(12*time.Second, 1),
			length(12*time.Second+1, 0),
		}},
		// A refused event is still recorded.
		{"intensity 0", escalation.Intensity{MaxRestarts: 0, Period: time.Second}, []op{
			rec(0, false), length(0, 1), length(time.Second, 1), length(time.Second+1, 0),
		}},
		{"defaults after refusal", escalation.Default, []op{
			rec(0, true), rec(time.Second, false), length(time.Second, 2),
			length(5*time.Second, 2), length(5*time.Second+1, 1), length(6*time.Second+1, 0),
		}},
		// A time going backwards is taken as the newest one, also when the
		// window keeps no older event.
		{"intensity 0 backwards", escalation.Intensity{MaxRestarts: 0, Period: time.Second}, []op{
			rec(10*time.Second, false), rec(0, false), length(11*time.Second, 1), length(11*time.Second+1, 0),
		}},
		// A window keeps at most MaxRestarts+1 events, so Len is capped there.
		{"capped at MaxRestarts+1", escalation.Intensity{MaxRestarts: 2, Period: time.Second}, []op{
			rec(0, true), rec(0, true), rec(0, false), rec(0, false), rec(0, false), length(0, 3),
		}},
		// Len is a query: asking about a later time does not forget events
		// that still count for a Record at an earlier time.
		{"Len does not drop events", escalation.Intensity{MaxRestarts: 2, Period: 10 * time.Second}, []op{
			rec(0, true), length(time.Hour, 0), rec(time.Second, true), rec(2*time.Second, false),
			length(2*time.Second, 3),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := escalation.NewWindow(tt.limit)
			for i, o := range tt.ops {
				if o.record {
					if got := w.Record(at(o.at)); got != (o.want == 1) {
						t.Fatalf("op %d: Record(t0+%v) = %v, want %v", i, o.at, got, o.want == 1)
					}
					continue
				}
				if got := w.Len(at(o.at)); got != o.want {
					t.Fatalf("op %d: Len(t0+%v) = %d, want %d", i, o.at, got, o.want)
				}
			}
		})
	}
}

func TestWindowReset(t *testing.T) {
	w := escalation.NewWindow(escalation.Default)
	w.Reset() // on an empty window
	if w.Len(t0) != 0 {
		t.Fatal("Len after Reset of an empty window != 0")
	}
	if !w.Record(at(100*time.Second)) || w.Record(at(100*time.Second)) {
		t.Fatal("Default window did not refuse the second restart")
	}
	w.Reset()
	if n := w.Len(at(100 * time.Second)); n != 0 {
		t.Errorf("Len after Reset = %d, want 0", n)
	}
	if w.Intensity() != escalation.Default {
		t.Errorf("Reset changed the limit to %v", w.Intensity())
	}
	// After Reset the window starts afresh: an earlier time than before the
	// reset is taken as it is, not as the forgotten newest event.
	if !w.Record(t0) {
		t.Fatal("first Record after Reset = false")
	}
	if !w.Record(at(5*time.Second + 1)) {
		t.Error("Record 5s+1ns after the first post-Reset event = false: the pre-Reset time leaked")
	}
	if w.Record(at(5*time.Second + 2)) {
		t.Error("third Record within 5s = true")
	}
}

// TestWindowBackwards checks that a time before the newest recorded one is
// treated as equal to it and leaves the window consistent.
func TestWindowBackwards(t *testing.T) {
	tests := []struct {
		name  string
		limit escalation.Intensity
		steps []step
	}{
		{"backwards counts as newest", escalation.Intensity{MaxRestarts: 1, Period: time.Second}, []step{
			{10 * time.Second, true},
			{0, false},                  // taken as t0+10s: two events in the window
			{11 * time.Second, false},   // 10s, 10s and 11s
			{12*time.Second + 1, true},  // 10s expired, 11s expired
			{12*time.Second + 1, false}, // two at 12s+1ns
			{-time.Hour, false},         // three at 12s+1ns
			{13*time.Second + 1, false}, // 12s+1ns is exactly Period old
			{14*time.Second + 2, true},  // all expired
		}},
		{"backwards within the limit", escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second}, []step{
			{100 * time.Second, true},
			{50 * time.Second, true},   // taken as 100s
			{90 * time.Second, true},   // taken as 100s
			{110 * time.Second, false}, // 100, 100, 100 and 110 in [100, 110]
			{120 * time.Second, true},  // only 110 and 120 are in [110, 120]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := escalation.NewWindow(tt.limit)
			for i, s := range tt.steps {
				if got := w.Record(at(s.at)); got != s.want {
					t.Fatalf("step %d: Record(t0+%v) = %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

// TestWindowLongRun records 100,000 events 1 ms apart: with a huge
// MaxRestarts nothing trips and Len follows the window exactly; with
// MaxRestarts 1000 the 1001st event inside the 1 s window (a6: give up on
// restart MaxRestarts+1) and every one after it is refused.
func TestWindowLongRun(t *testing.T) {
	const events = 100_000
	tests := []struct {
		max int
	}{
		{1_000_000},
		{1000},
		{999},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			w := escalation.NewWindow(escalation.Intensity{MaxRestarts: tt.max, Period: time.Second})
			for k := range events {
				now := at(time.Duration(k) * time.Millisecond)
				// Events at k-1000 ms .. k ms are in the window, this one included.
				inWindow := min(k, 1000) + 1
				if got, want := w.Record(now), inWindow <= tt.max; got != want {
					t.Fatalf("event %d: Record = %v, want %v", k, got, want)
				}
				if k%997 == 0 || k == events-1 {
					if got, want := w.Len(now), min(inWindow, tt.max+1); got != want {
						t.Fatalf("event %d: Len = %d, want %d", k, got, want)
					}
				}
			}
			end := at((events - 1) * time.Millisecond)
			if got, want := w.Len(end.Add(500*time.Millisecond)), min(501, tt.max+1); got != want {
				t.Errorf("Len half a period after the last event = %d, want %d", got, want)
			}
			if got := w.Len(end.Add(time.Second + 1)); got != 0 {
				t.Errorf("Len after the window = %d, want 0", got)
			}
		})
	}
}

// refWindow is the naive reference: it keeps every event and walks them all,
// as OTP's supervisor does with its restart list.
type refWindow struct {
	limit escalation.Intensity
	times []time.Time
}

func (r *refWindow) Record(now time.Time) bool {
	if n := len(r.times); n > 0 && now.Before(r.times[n-1]) {
		now = r.times[n-1]
	}
	count := r.count(now) + 1
	r.times = append(r.times, now)
	return count <= r.limit.MaxRestarts
}

// Len is capped at MaxRestarts+1, the most events a Window keeps.
func (r *refWindow) Len(now time.Time) int { return min(r.count(now), r.limit.MaxRestarts+1) }

func (r *refWindow) count(now time.Time) int {
	cutoff := now.Add(-r.limit.Period)
	n := 0
	for _, t := range r.times {
		if !t.Before(cutoff) {
			n++
		}
	}
	return n
}

func (r *refWindow) newest() (time.Time, bool) {
	if len(r.times) == 0 {
		return time.Time{}, false
	}
	return r.times[len(r.times)-1], true
}

// TestWindowMatchesReference compares Window with the naive reference on
// random sequences of Record, Len and Reset, with steps chosen to hit the
// boundary often and, in one mode, times that go backwards.
func TestWindowMatchesReference(t *testing.T) {
	for _, backwards := range []bool{false, true} {
		t.Run(fmt.Sprintf("backwards=%v", backwards), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, map[bool]uint64{false: 1, true: 2}[backwards]))
			periods := []time.Duration{1, 3, time.Millisecond, time.Second}
			for seq := range 400 {
				limit := escalation.Intensity{MaxRestarts: rng.IntN(7), Period: periods[rng.IntN(len(periods))]}
				w := escalation.NewWindow(limit)
				ref := &refWindow{limit: limit}
				p := limit.Period
				now := t0
				var trace []string
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("sequence %d (%v): %s\ntrace:\n%s", seq, limit, fmt.Sprintf(format, args...), strings.Join(trace, "\n"))
				}
				step := func() time.Duration {
					switch rng.IntN(8) {
					case 0:
						return 0
					case 1:
						return p
					case 2:
						return p + 1
					case 3:
						return max(p-1, 0)
					case 4:
						return p / 2
					default:
						return time.Duration(rng.Int64N(int64(2*p) + 1))
					}
				}
				for range 250 {
					switch op := rng.IntN(100); {
					case op < 3:
						w.Reset()
						ref.times = nil
						trace = append(trace, "Reset")
					case op < 20:
						// Len at or after the newest event: the window has
						// dropped older events that only a query about the
						// past would need.
						q := now
						if n, ok := ref.newest(); ok && n.After(q) {
							q = n
						}
						q = q.Add(step())
						got, want := w.Len(q), ref.Len(q)
						trace = append(trace, fmt.Sprintf("Len(%v) = %d", q.Sub(t0), got))
						if got != want {
							fail("Len(%v) = %d, reference %d", q.Sub(t0), got, want)
						}
					default:
						if backwards && rng.IntN(5) == 0 {
							now = now.Add(-time.Duration(rng.Int64N(int64(3*p) + 1)))
						} else {
							now = now.Add(step())
						}
						got, want := w.Record(now), ref.Record(now)
						trace = append(trace, fmt.Sprintf("Record(%v) = %v", now.Sub(t0), got))
						if got != want {
							fail("Record(%v) = %v, reference %v", now.Sub(t0), got, want)
						}
					}
				}
			}
		})
	}
}

// BenchmarkWindowRecord measures Record in a steady state with MaxRestarts
// 1000 and a 1 s period, against the naive list walk OTP uses.
func BenchmarkWindowRecord(b *testing.B) {
	limit := escalation.Intensity{MaxRestarts: 1000, Period: time.Second}
	cases := []struct {
		name    string
		spacing time.Duration
	}{
		{"within", 2 * time.Millisecond}, // ~500 events in the window: allowed
		{"exceeded", time.Millisecond},   // 1001 events in the window: refused
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := escalation.NewWindow(limit)
			now := t0
			for range 5000 { // fill the window and grow the ring first
				w.Record(now)
				now = now.Add(c.spacing)
			}
			b.ReportAllocs()
			for b.Loop() {
				w.Record(now)
				now = now.Add(c.spacing)
			}
		})
		b.Run(c.name+"/naive", func(b *testing.B) {
			ref := &refWindow{limit: limit}
			now := t0
			record := func() {
				ref.Record(now)
				// Keep the reference's list to the window, as OTP does.
				cutoff := now.Add(-limit.Period)
				i := 0
				for i < len(ref.times) && ref.times[i].Before(cutoff) {
					i++
				}
				ref.times = ref.times[i:]
				now = now.Add(c.spacing)
			}
			for range 5000 {
				record()
			}
			b.ReportAllocs()
			for b.Loop() {
				record()
			}
		})
	}
}

// Past MaxTimes distinct times in one period, the window merges new events
// into its newest time: its memory stays bounded, and it gives up no later
// than an exact count would (never lets a restart through that the exact
// window refuses).
func TestWindowPastMaxTimesNeverLater(t *testing.T) {
	limit := escalation.Intensity{MaxRestarts: 2 * escalation.MaxTimes, Period: 400 * time.Millisecond}
	w := escalation.NewWindow(limit)
	var exact []time.Time // every event inside the window, oldest first
	rng := rand.New(rand.NewPCG(7, 7))
	now := t0
	sooner := 0
	for i := range 30_000 {
		now = now.Add(time.Duration(rng.Int64N(int64(100 * time.Microsecond))))
		cutoff := now.Add(-limit.Period)
		k := 0
		for k < len(exact) && exact[k].Before(cutoff) {
			k++
		}
		exact = append(exact[k:], now)
		got, want := w.Record(now), len(exact) <= limit.MaxRestarts
		if got && !want {
			t.Fatalf("event %d: Record = true, the exact window refuses it", i)
		}
		if !got && want {
			sooner++
		}
	}
	t.Logf("gave up sooner than exact on %d of 30,000 events", sooner)
}
