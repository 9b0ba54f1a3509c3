// Package strategy decides which children a supervisor stops and starts after
// one of them exits: OTP's one_for_one, one_for_all, rest_for_one and
// simple_one_for_one.
//
// A [Strategy] is a closed set of values, and [Strategy.Plan] is a pure
// function over the children's restart types: no goroutines, channels or
// clocks, so it is table-tested like any other function. The supervisor carries
// the plan out.
//
// # Rules
//
// Only an exit that needs a restart (see [child.Restart.ShouldRestart]) has any
// effect; a transient child's normal exit and a temporary child's exit touch no
// sibling. A group restart stops siblings in reverse start order, then starts
// children in declared order; it also starts children that were not running,
// and it drops temporary siblings instead of restarting them.
package strategy

import (
	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/enum"
)

// Strategy is a supervisor's restart strategy. The zero value is [OneForOne].
type Strategy uint8

const (
	// OneForOne restarts only the child that exited.
	OneForOne Strategy = iota
	// OneForAll stops every other child in reverse start order, then starts all
	// of them again in declared order.
	OneForAll
	// RestForOne stops the children declared after the one that exited, in
	// reverse order, then starts it and them again in declared order.
	RestForOne
	// SimpleOneForOne is OneForOne over instances of one template, added at
	// run time; they are stopped in parallel. It is what a supervisor built
	// with supervisor.NewSimple reports as its strategy (Info, Config); such a
	// supervisor is built only that way, so supervisor.New and Apply reject
	// it, pointing to NewSimple.
	SimpleOneForOne
)

var names = [...]string{OneForOne: "one_for_one", OneForAll: "one_for_all", RestForOne: "rest_for_one", SimpleOneForOne: "simple_one_for_one"}

var strategyText = enum.Text[Strategy]{Type: "Strategy", Names: names[:], Invalid: enum.Errorf("strategy: unknown strategy")}

// String returns OTP's name, such as "one_for_all".
func (s Strategy) String() string { return strategyText.String(s) }

// MarshalText encodes s as its OTP name. An unknown value is an error.
func (s Strategy) MarshalText() ([]byte, error) { return strategyText.Marshal(s) }

// UnmarshalText parses an OTP strategy name, such as "one_for_all".
func (s *Strategy) UnmarshalText(text []byte) error { return strategyText.Unmarshal(text, s) }

// Valid reports whether s is one of the defined strategies.
func (s Strategy) Valid() bool { return int(s) < len(names) }

// Plan is what a supervisor does after a child exit. Indexes are positions in
// the supervisor's start order.
type Plan struct {
	// Stop lists the running siblings to terminate, in reverse start order.
	Stop []int
	// Start lists the children to start, in start order. Empty means the exit
	// needs no restart: it is not counted against the restart intensity.
	Start []int
	// Forget lists the temporary children whose specs are dropped.
	Forget []int
}

// Plan returns what to do when the child at index failed exits; restarts holds
// every child's restart type in start order, and normal says whether the exit
// was normal. The supervisor also uses it, with normal false, to retry a group
// restart whose start failed at index failed.
func (s Strategy) Plan(restarts []child.Restart, failed int, normal bool) Plan {
	if !restarts[failed].ShouldRestart(normal) {
		if restarts[failed] == child.Temporary {
			return Plan{Forget: []int{failed}}
		}
		return Plan{}
	}
	first := failed // the first index of the group to restart
	switch s {
	case OneForAll:
		first = 0
	case RestForOne:
	default:
		return Plan{Start: []int{failed}}
	}
	n := len(restarts) - first
	p := Plan{Stop: make([]int, 0, n-1), Start: make([]int, 0, n)}
	for i := len(restarts) - 1; i >= first; i-- {
		if i != failed {
			p.Stop = append(p.Stop, i)
		}
	}
	for i := first; i < len(restarts); i++ {
		if i != failed && restarts[i] == child.Temporary {
			p.Forget = append(p.Forget, i)
			continue
		}
		p.Start = append(p.Start, i)
	}
	return p
}
