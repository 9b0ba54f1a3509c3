package supervisor

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strconv"
	"strings"
)

// LabelKey is the pprof label every child goroutine carries: the child's path
// in the tree. Goroutines a child starts inherit it, so a goroutine profile
// (/debug/pprof/goroutine?debug=1, or -tagfocus=arbor_child=...) attributes
// them to their child.
const LabelKey = "arbor_child"

// labelled returns ctx carrying the pprof label for path.
func labelled(ctx context.Context, path string) context.Context {
	return pprof.WithLabels(ctx, pprof.Labels(LabelKey, path))
}

// GoroutineStacks returns the stacks of the goroutines labelled (see
// [LabelKey]) with path or a path below it, as the goroutine profile prints
// them at debug level 1, or "" if there are none. Supervisors put them in a
// [StopTimeoutError] for a child that overran its shutdown budget.
func GoroutineStacks(path string) string {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return ""
	}
	exact := `"` + LabelKey + `":` + strconv.Quote(path)
	nested := `"` + LabelKey + `":` + strconv.Quote(path+"/")
	nested = nested[:len(nested)-1] // a prefix match: the closing quote is dropped
	var out strings.Builder
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		if strings.HasPrefix(rec, "goroutine profile:") { // the header shares the first record
			_, rec, _ = strings.Cut(rec, "\n")
		}
		if strings.Contains(rec, exact) || strings.Contains(rec, nested) {
			out.WriteString(strings.TrimSpace(rec))
			out.WriteString("\n\n")
		}
	}
	return out.String()
}

// takeStacks takes one goroutine profile and returns a function that finds
// the stacks of a path (as GoroutineStacks does) in it: a shutdown step that
// abandons many children profiles once.
var takeStacks = func() func(path string) string {
	return GoroutineStacks // replaced by one indexed profile
}
