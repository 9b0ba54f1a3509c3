package supervisor

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strconv"
	"strings"
)

// labelKey is the pprof label every child goroutine carries: the child's path
// in the tree. Goroutines a child starts inherit it, so a goroutine profile
// (/debug/pprof/goroutine?debug=1, or -tagfocus=arbor_child=...) attributes
// them to their child.
const labelKey = "arbor_child"

// labelled returns ctx carrying the pprof label for path.
func labelled(ctx context.Context, path string) context.Context {
	return pprof.WithLabels(ctx, pprof.Labels(labelKey, path))
}

// goroutineStacks returns the stacks of the goroutines labelled with path or a
// path below it, from the goroutine profile, or "" if there are none.
func goroutineStacks(path string) string {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return ""
	}
	exact := `"` + labelKey + `":` + strconv.Quote(path)
	nested := `"` + labelKey + `":` + strconv.Quote(path+"/")
	nested = nested[:len(nested)-1] // a prefix match: the closing quote is dropped
	var out strings.Builder
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(rec, exact) || strings.Contains(rec, nested) {
			out.WriteString(strings.TrimSpace(rec))
			out.WriteString("\n\n")
		}
	}
	return out.String()
}
