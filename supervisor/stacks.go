package supervisor

import (
	"context"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/arborgo/arbor/internal/goroutines"
)

// LabelKey is the pprof label every child goroutine carries: the child's path
// in the tree. Goroutines a child starts inherit it, so a goroutine profile
// (/debug/pprof/goroutine?debug=1, or -tagfocus=arbor_child=...) attributes
// them to their child.
const LabelKey = "arbor_child"

// LabelTree is the pprof label every child goroutine carries beside
// [LabelKey]: its tree's identity, a number unique in the process, so that
// two trees whose roots share a name are told apart.
const LabelTree = "arbor_tree"

// LabelIncarnation is the pprof label of a child goroutine under
// [WithLeakCheck]: its incarnation, unique in the process, so that what an
// incarnation left running after it returned is found.
const LabelIncarnation = "arbor_incarnation"

// labelled returns ctx carrying the pprof label for path.
func labelled(ctx context.Context, path string) context.Context {
	return pprof.WithLabels(ctx, pprof.Labels(LabelKey, path))
}

// GoroutineStacks returns the stacks of the goroutines labelled (see
// [LabelKey]) with path or a path below it, as the goroutine profile prints
// them at debug level 1, or "" if there are none. Supervisors put them in a
// [StopTimeoutError] for a child that overran its shutdown budget.
func GoroutineStacks(path string) string {
	return goroutines.Take(LabelKey).Stacks(path)
}

// Goroutines is what a goroutine profile shows for one child path.
type Goroutines struct {
	Count  int    // goroutines labelled with the path
	Stacks string // their stacks, as [GoroutineStacks] prints them
}

// GoroutinesUnder takes one goroutine profile and returns, by child path, the
// goroutines labelled (see [LabelKey]) root or a path below it: what is still
// running in a tree, whatever its supervisors' records say, including the
// children they abandoned.
func GoroutinesUnder(root string) map[string]Goroutines {
	groups := goroutines.Take(LabelKey).Under(root)
	out := make(map[string]Goroutines, len(groups))
	for path, g := range groups {
		out[path] = Goroutines{Count: g.Count, Stacks: g.Stacks}
	}
	return out
}

// takeStacks takes one goroutine profile and returns a function that finds
// in it the stacks of a path of the tree (as GoroutineStacks does for every
// tree): a shutdown step that abandons many children profiles once.
var takeStacks = func(tree string, since time.Time) func(path string) string {
	p := sharedProfile(since)
	return func(path string) string { return p.Stacks(tree + "\x00" + path) }
}

// takeProfile takes the goroutine profile abandonment reports read.
var takeProfile = func() *goroutines.Profile { return goroutines.TakeJoined(LabelTree, LabelKey) }

// recent is the last goroutine profile taken (or being taken) for
// abandonment reports, indexed by tree and path.
var recent struct {
	mu sync.Mutex
	p  *sharedTake // guarded by mu
}

// sharedTake is one goroutine profile, begun at started, ready once done is
// closed.
type sharedTake struct {
	started time.Time
	done    chan struct{}
	p       *goroutines.Profile // written before done is closed
}

// sharedProfile returns a goroutine profile begun no earlier than since (the
// moment the children to report were cut, in wall-clock time), taking one
// only if none is, or is being, taken: when a deadline cuts a whole tree,
// every supervisor in it reports at once, and one profile serves them all.
func sharedProfile(since time.Time) *goroutines.Profile {
	recent.mu.Lock()
	if t := recent.p; t != nil && !t.started.Before(since) {
		recent.mu.Unlock()
		<-t.done
		return t.p
	}
	t := &sharedTake{started: time.Now(), done: make(chan struct{})}
	recent.p = t
	recent.mu.Unlock()
	t.p = takeProfile()
	close(t.done)
	return t.p
}
