package soak

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// String formats the report as the table docs/reliability.md shows.
func (r *Report) String() string {
	if r == nil {
		return "(no report)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d rounds in %v\n", r.Seed, r.Rounds, r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "tree: %d static workers, pool peak %d instances; %d incarnations\n", r.Workers, r.PoolPeak, r.Incarnation)
	fmt.Fprintf(&b, "restarts %d, give-ups %d, abandoned %d, unreported injected exits (excused) %d, registry lookups %d\n",
		r.Restarts, r.GiveUps, r.Abandoned, r.Unreported, r.Lookups)
	fmt.Fprintf(&b, "start failures of API starts whose caller had given up, reported to nobody: %d\n", r.LostStarts)
	fmt.Fprintf(&b, "root Stops unanswered within StopGrace (returned ctx.Err()): %d of %d rounds\n", r.Unanswered, r.Rounds)
	fmt.Fprintf(&b, "children the root Stop named that an earlier stop had abandoned: %d\n", r.NamedEarlier)
	fmt.Fprintf(&b, "nested *StartErrors in the root Stop's result: %d\n", r.StopStartErrors)
	fmt.Fprintf(&b, "known core bug hits (live overlap under a deadline-cut supervisor): %d\n", r.KnownBugs)
	table := func(title string, m map[string]int64) {
		fmt.Fprintf(&b, "%s:\n", title)
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Fprintf(&b, "  %-28s %10d\n", k, m[k])
		}
	}
	table("faults injected", r.Faults)
	table("events", r.Events)
	table("calls", r.Calls)
	if len(r.Both) > 0 {
		table("injected exits returned by a call and reported by an event", r.Both)
	}
	if len(r.Overruns) > 0 {
		o := slices.Clone(r.Overruns)
		slices.Sort(o)
		q := func(p float64) time.Duration { return o[min(len(o)-1, int(p*float64(len(o))))].Round(time.Millisecond) }
		fmt.Fprintf(&b, "stops with a deadline: %d; return past the deadline: min %v, p50 %v, p90 %v, p99 %v, max %v\n",
			r.Stops, o[0].Round(time.Millisecond), q(0.5), q(0.9), q(0.99), o[len(o)-1].Round(time.Millisecond))
	}
	var heap []string
	for _, h := range r.Heap {
		heap = append(heap, fmt.Sprintf("%d", h>>10))
	}
	fmt.Fprintf(&b, "heap in use after each round (KiB): %s\n", strings.Join(heap, " "))
	fmt.Fprintf(&b, "goroutines after each round: %v\n", r.Goroutines)
	if len(r.Violations) > 0 {
		fmt.Fprintf(&b, "VIOLATIONS:\n  %s\n", strings.Join(r.Violations, "\n  "))
	}
	return b.String()
}
