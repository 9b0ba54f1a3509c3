package strategy_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

const (
	P  = child.Permanent
	Tr = child.Transient
	Te = child.Temporary
)

type planCase struct {
	name     string
	s        strategy.Strategy
	restarts []child.Restart
	failed   int
	normal   bool
	want     strategy.Plan
}

// checkPlan compares a plan; nil and empty slices are the same.
func checkPlan(t *testing.T, tc planCase) {
	t.Helper()
	in := slices.Clone(tc.restarts)
	got := tc.s.Plan(tc.restarts, tc.failed, tc.normal)
	if !slices.Equal(tc.restarts, in) {
		t.Errorf("Plan modified its input: %v, was %v", tc.restarts, in)
	}
	if !slices.Equal(got.Stop, tc.want.Stop) {
		t.Errorf("Stop = %v, want %v", got.Stop, tc.want.Stop)
	}
	if !slices.Equal(got.Start, tc.want.Start) {
		t.Errorf("Start = %v, want %v", got.Start, tc.want.Start)
	}
	if !slices.Equal(got.Forget, tc.want.Forget) {
		t.Errorf("Forget = %v, want %v", got.Forget, tc.want.Forget)
	}
}

// TestPlanMatrix covers a4 × a5: every strategy × the failed child's restart
// type × normal/abnormal exit, with children a, b, c, d (all permanent but
// the failed one) and b (index 1) exiting.
func TestPlanMatrix(t *testing.T) {
	with := func(r child.Restart) []child.Restart { return []child.Restart{P, r, P, P} }
	none := strategy.Plan{}
	forgetB := strategy.Plan{Forget: []int{1}}
	// a5: one_for_one restarts b alone.
	ofo := strategy.Plan{Start: []int{1}}
	// a5: one_for_all stops d, c, a (reverse order, b is gone), starts a, b, c, d.
	ofa := strategy.Plan{Stop: []int{3, 2, 0}, Start: []int{0, 1, 2, 3}}
	// a5: rest_for_one stops d, c, starts b, c, d; a is untouched.
	rfo := strategy.Plan{Stop: []int{3, 2}, Start: []int{1, 2, 3}}

	tests := []planCase{
		// Permanent: restarted after any exit, a nil return included (a4, a14.7).
		{"one_for_one/permanent/normal", strategy.OneForOne, with(P), 1, true, ofo},
		{"one_for_one/permanent/abnormal", strategy.OneForOne, with(P), 1, false, ofo},
		{"one_for_all/permanent/normal", strategy.OneForAll, with(P), 1, true, ofa},
		{"one_for_all/permanent/abnormal", strategy.OneForAll, with(P), 1, false, ofa},
		{"rest_for_one/permanent/normal", strategy.RestForOne, with(P), 1, true, rfo},
		{"rest_for_one/permanent/abnormal", strategy.RestForOne, with(P), 1, false, rfo},

		// Transient: a normal exit has no effect at all, even on siblings (a4, a14.4).
		{"one_for_one/transient/normal", strategy.OneForOne, with(Tr), 1, true, none},
		{"one_for_one/transient/abnormal", strategy.OneForOne, with(Tr), 1, false, ofo},
		{"one_for_all/transient/normal", strategy.OneForAll, with(Tr), 1, true, none},
		{"one_for_all/transient/abnormal", strategy.OneForAll, with(Tr), 1, false, ofa},
		{"rest_for_one/transient/normal", strategy.RestForOne, with(Tr), 1, true, none},
		{"rest_for_one/transient/abnormal", strategy.RestForOne, with(Tr), 1, false, rfo},

		// Temporary: never restarted, spec deleted, siblings untouched (a4).
		{"one_for_one/temporary/normal", strategy.OneForOne, with(Te), 1, true, forgetB},
		{"one_for_one/temporary/abnormal", strategy.OneForOne, with(Te), 1, false, forgetB},
		{"one_for_all/temporary/normal", strategy.OneForAll, with(Te), 1, true, forgetB},
		{"one_for_all/temporary/abnormal", strategy.OneForAll, with(Te), 1, false, forgetB},
		{"rest_for_one/temporary/normal", strategy.RestForOne, with(Te), 1, true, forgetB},
		{"rest_for_one/temporary/abnormal", strategy.RestForOne, with(Te), 1, false, forgetB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, tc) })
	}
}

// TestPlanGroupDetails covers the a5 details: temporary siblings are stopped
// and dropped by a group restart, never restarted; transient siblings (which
// may have ended normally) are started again; the failed child at either end.
func TestPlanGroupDetails(t *testing.T) {
	tests := []planCase{
		// a5 / SUITE temporary_bystander: c is temporary.
		{"one_for_all/temporary sibling", strategy.OneForAll, []child.Restart{P, P, Te, P}, 1, false,
			strategy.Plan{Stop: []int{3, 2, 0}, Start: []int{0, 1, 3}, Forget: []int{2}}},
		{"rest_for_one/temporary sibling after", strategy.RestForOne, []child.Restart{P, P, Te, P}, 1, false,
			strategy.Plan{Stop: []int{3, 2}, Start: []int{1, 3}, Forget: []int{2}}},
		{"rest_for_one/temporary sibling before is untouched", strategy.RestForOne, []child.Restart{Te, P, P, P}, 1, false,
			strategy.Plan{Stop: []int{3, 2}, Start: []int{1, 2, 3}}},
		{"one_for_one/temporary siblings untouched", strategy.OneForOne, []child.Restart{Te, P, Te, Te}, 1, false,
			strategy.Plan{Start: []int{1}}},
		{"one_for_all/all siblings temporary", strategy.OneForAll, []child.Restart{Te, Tr, Te, Te}, 1, false,
			strategy.Plan{Stop: []int{3, 2, 0}, Start: []int{1}, Forget: []int{0, 2, 3}}},
		{"one_for_all/mixed siblings", strategy.OneForAll, []child.Restart{Te, P, Tr, Te}, 2, false,
			strategy.Plan{Stop: []int{3, 1, 0}, Start: []int{1, 2}, Forget: []int{0, 3}}},
		// a5: transient siblings come back even if they had ended normally.
		{"one_for_all/transient siblings restarted", strategy.OneForAll, []child.Restart{Tr, P, Tr, Tr}, 1, true,
			strategy.Plan{Stop: []int{3, 2, 0}, Start: []int{0, 1, 2, 3}}},
		{"rest_for_one/transient siblings restarted", strategy.RestForOne, []child.Restart{Tr, P, Tr, Tr}, 1, true,
			strategy.Plan{Stop: []int{3, 2}, Start: []int{1, 2, 3}}},
		// A temporary exit under a group strategy leaves temporary siblings alone.
		{"one_for_all/temporary exit with temporary siblings", strategy.OneForAll, []child.Restart{Te, Te, Te, P}, 1, false,
			strategy.Plan{Forget: []int{1}}},

		// Failed child first.
		{"one_for_one/first", strategy.OneForOne, []child.Restart{P, P, P, P}, 0, false,
			strategy.Plan{Start: []int{0}}},
		{"one_for_all/first", strategy.OneForAll, []child.Restart{P, P, P, P}, 0, false,
			strategy.Plan{Stop: []int{3, 2, 1}, Start: []int{0, 1, 2, 3}}},
		{"rest_for_one/first", strategy.RestForOne, []child.Restart{P, P, P, P}, 0, false,
			strategy.Plan{Stop: []int{3, 2, 1}, Start: []int{0, 1, 2, 3}}},
		{"one_for_all/first temporary", strategy.OneForAll, []child.Restart{Te, P, P, P}, 0, false,
			strategy.Plan{Forget: []int{0}}},
		{"one_for_all/first transient normal", strategy.OneForAll, []child.Restart{Tr, P, P, P}, 0, true,
			strategy.Plan{}},

		// Failed child last.
		{"one_for_one/last", strategy.OneForOne, []child.Restart{P, P, P, P}, 3, false,
			strategy.Plan{Start: []int{3}}},
		{"one_for_all/last", strategy.OneForAll, []child.Restart{P, P, P, P}, 3, false,
			strategy.Plan{Stop: []int{2, 1, 0}, Start: []int{0, 1, 2, 3}}},
		{"rest_for_one/last", strategy.RestForOne, []child.Restart{P, P, P, P}, 3, false,
			strategy.Plan{Start: []int{3}}},
		{"rest_for_one/last temporary", strategy.RestForOne, []child.Restart{P, P, P, Te}, 3, false,
			strategy.Plan{Forget: []int{3}}},
		{"rest_for_one/last transient normal", strategy.RestForOne, []child.Restart{P, P, P, Tr}, 3, true,
			strategy.Plan{}},

		// A single child.
		{"one_for_all/only child", strategy.OneForAll, []child.Restart{P}, 0, true,
			strategy.Plan{Start: []int{0}}},
		{"rest_for_one/only child", strategy.RestForOne, []child.Restart{Tr}, 0, false,
			strategy.Plan{Start: []int{0}}},
		{"one_for_one/only child temporary", strategy.OneForOne, []child.Restart{Te}, 0, false,
			strategy.Plan{Forget: []int{0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, tc) })
	}
}

// TestPlanRetry covers a7: a retry after a failed start is planned with
// normal false at the index that failed to start. one_for_all restarts the
// whole group again; rest_for_one restarts from the child that failed to start.
func TestPlanRetry(t *testing.T) {
	all := []child.Restart{P, P, P, P}
	tests := []planCase{
		{"one_for_all/c failed to start", strategy.OneForAll, all, 2, false,
			strategy.Plan{Stop: []int{3, 1, 0}, Start: []int{0, 1, 2, 3}}},
		{"rest_for_one/c failed to start", strategy.RestForOne, all, 2, false,
			strategy.Plan{Stop: []int{3}, Start: []int{2, 3}}},
		{"one_for_one/c failed to start", strategy.OneForOne, all, 2, false,
			strategy.Plan{Start: []int{2}}},
		// A transient child whose start failed is retried: the failure is abnormal.
		{"one_for_all/transient failed to start", strategy.OneForAll, []child.Restart{P, P, Tr, P}, 2, false,
			strategy.Plan{Stop: []int{3, 1, 0}, Start: []int{0, 1, 2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, tc) })
	}
}

// TestPlanProperties checks, on random children lists, the invariants that
// hold for every plan (a4, a5): an exit needing no restart has no effect but
// forgetting a temporary child; Stop is in reverse order and never holds the
// failed child; Start is in declared order and never holds a temporary
// sibling; a group restart stops every sibling of its group and either starts
// or forgets each member.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []child.Restart{P, Tr, Te}
	for iter := range 5000 {
		n := 1 + rng.IntN(8)
		restarts := make([]child.Restart, n)
		for i := range restarts {
			restarts[i] = types[rng.IntN(len(types))]
		}
		failed := rng.IntN(n)
		normal := rng.IntN(2) == 0
		s := strategy.Strategy(rng.IntN(3))
		p := s.Plan(restarts, failed, normal)
		desc := fmt.Sprintf("#%d %v.Plan(%v, %d, normal=%v) = %+v", iter, s, restarts, failed, normal, p)

		if !restarts[failed].ShouldRestart(normal) {
			want := strategy.Plan{}
			if restarts[failed] == Te {
				want.Forget = []int{failed}
			}
			if len(p.Stop) != 0 || len(p.Start) != 0 || !slices.Equal(p.Forget, want.Forget) {
				t.Fatalf("%s: an exit needing no restart must have no effect", desc)
			}
			continue
		}
		first := failed
		switch s {
		case strategy.OneForAll:
			first = 0
		case strategy.OneForOne:
			if len(p.Stop) != 0 || !slices.Equal(p.Start, []int{failed}) || len(p.Forget) != 0 {
				t.Fatalf("%s: one_for_one must start only the failed child", desc)
			}
			continue
		}
		var wantStop, wantStart, wantForget []int
		for i := n - 1; i >= first; i-- {
			if i != failed {
				wantStop = append(wantStop, i)
			}
		}
		for i := first; i < n; i++ {
			switch {
			case i == failed:
				wantStart = append(wantStart, i)
			case restarts[i] == Te:
				wantForget = append(wantForget, i)
			default:
				wantStart = append(wantStart, i)
			}
		}
		if !slices.Equal(p.Stop, wantStop) || !slices.Equal(p.Start, wantStart) || !slices.Equal(p.Forget, wantForget) {
			t.Fatalf("%s: want Stop %v Start %v Forget %v", desc, wantStop, wantStart, wantForget)
		}
	}
}

func TestStrategyText(t *testing.T) {
	tests := []struct {
		s    strategy.Strategy
		name string
	}{
		{strategy.OneForOne, "one_for_one"},
		{strategy.OneForAll, "one_for_all"},
		{strategy.RestForOne, "rest_for_one"},
		{strategy.SimpleOneForOne, "simple_one_for_one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.s.Valid() {
				t.Error("Valid() = false")
			}
			if got := tt.s.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			text, err := tt.s.MarshalText()
			if err != nil || string(text) != tt.name {
				t.Fatalf("MarshalText() = %q, %v; want %q, nil", text, err, tt.name)
			}
			s := strategy.Strategy(99)
			if err := s.UnmarshalText(text); err != nil || s != tt.s {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v, nil", text, s, err, tt.s)
			}
			b, err := json.Marshal(map[string]strategy.Strategy{"strategy": tt.s})
			if err != nil || string(b) != `{"strategy":"`+tt.name+`"}` {
				t.Fatalf("json.Marshal = %s, %v", b, err)
			}
			var back map[string]strategy.Strategy
			if err := json.Unmarshal(b, &back); err != nil || back["strategy"] != tt.s {
				t.Errorf("json round trip = %v, %v", back, err)
			}
		})
	}
	var zero strategy.Strategy
	if zero != strategy.OneForOne {
		t.Error("zero Strategy is not OneForOne (OTP's default)")
	}
}

func TestStrategyTextErrors(t *testing.T) {
	for _, s := range []strategy.Strategy{4, 5, 255} {
		if s.Valid() {
			t.Errorf("Strategy(%d).Valid() = true", uint8(s))
		}
		if got, want := s.String(), fmt.Sprintf("Strategy(%d)", uint8(s)); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if text, err := s.MarshalText(); err == nil || text != nil {
			t.Errorf("Strategy(%d).MarshalText() = %q, %v; want nil, error", uint8(s), text, err)
		}
	}
	for _, text := range []string{"", "one_for_ONE", "ONE_FOR_ALL", "Simple_one_for_one", "one-for-one", "oneforone", " rest_for_one", "0"} {
		s := strategy.RestForOne
		err := s.UnmarshalText([]byte(text))
		if err == nil {
			t.Errorf("UnmarshalText(%q) = nil, want error", text)
		}
		if s != strategy.RestForOne {
			t.Errorf("UnmarshalText(%q) changed the value to %v on error", text, s)
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	restarts := func(n int) []child.Restart {
		r := make([]child.Restart, n)
		for i := range r {
			r[i] = []child.Restart{P, Tr, Te}[i%3]
		}
		return r
	}
	cases := []struct {
		name     string
		s        strategy.Strategy
		restarts []child.Restart
		failed   int
		normal   bool
	}{
		{"one_for_one/4", strategy.OneForOne, restarts(4), 1, false},
		{"no_restart/4", strategy.OneForAll, restarts(4), 1, true},
		{"one_for_all/4", strategy.OneForAll, restarts(4), 1, false},
		{"rest_for_one/4", strategy.RestForOne, restarts(4), 1, false},
		{"one_for_all/64", strategy.OneForAll, restarts(64), 31, false},
		{"rest_for_one/64", strategy.RestForOne, restarts(64), 31, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var p strategy.Plan
			for b.Loop() {
				p = c.s.Plan(c.restarts, c.failed, c.normal)
			}
			_ = p
		})
	}
}
