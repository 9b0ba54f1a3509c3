package strategy_test

import (
	"fmt"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

// Children a, b, c, d; b crashes under one_for_all. The others are stopped
// in reverse start order, then all four start again in declared order.
func ExampleStrategy_Plan() {
	names := []string{"a", "b", "c", "d"}
	restarts := []child.Restart{child.Permanent, child.Permanent, child.Permanent, child.Permanent}
	p := strategy.OneForAll.Plan(restarts, 1, false)
	fmt.Println("stop:", pick(names, p.Stop))
	fmt.Println("start:", pick(names, p.Start))
	// Output:
	// stop: [d c a]
	// start: [a b c d]
}

// Under rest_for_one only the children after b are stopped; a temporary
// sibling is dropped instead of restarted.
func ExampleStrategy_Plan_restForOne() {
	names := []string{"a", "b", "c", "d"}
	restarts := []child.Restart{child.Permanent, child.Permanent, child.Temporary, child.Permanent}
	p := strategy.RestForOne.Plan(restarts, 1, false)
	fmt.Println("stop:", pick(names, p.Stop))
	fmt.Println("start:", pick(names, p.Start))
	fmt.Println("forget:", pick(names, p.Forget))
	// Output:
	// stop: [d c]
	// start: [b d]
	// forget: [c]
}

// A transient child that ends normally needs no restart: the plan is empty,
// and the exit does not count against the restart intensity.
func ExampleStrategy_Plan_transientNormal() {
	restarts := []child.Restart{child.Permanent, child.Transient, child.Permanent}
	p := strategy.OneForAll.Plan(restarts, 1, true)
	fmt.Println(len(p.Stop), len(p.Start), len(p.Forget))
	// Output:
	// 0 0 0
}

func ExampleStrategy_UnmarshalText() {
	var s strategy.Strategy
	fmt.Println(s.UnmarshalText([]byte("rest_for_one")), s)
	fmt.Println(s.UnmarshalText([]byte("two_for_one")) != nil, s)
	// Output:
	// <nil> rest_for_one
	// true rest_for_one
}

func pick(names []string, idx []int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, names[i])
	}
	return out
}
