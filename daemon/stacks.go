package daemon

import (
	"bytes"
	"runtime/pprof"
	"strconv"
	"strings"
)

// labelKey is the pprof label the supervisor puts on every child goroutine,
// with the child's path as its value; goroutines a child starts inherit it.
const labelKey = "arbor_child"

// goroutines is what the goroutine profile shows for one label value.
type goroutines struct {
	count  int
	stacks strings.Builder
}

// liveGoroutines returns, by child path, the goroutines whose arbor_child
// label is root or a path below it: what is still running in the tree,
// whatever the supervisors' own records say.
func liveGoroutines(root string) map[string]*goroutines {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return nil
	}
	live := make(map[string]*goroutines)
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		if strings.HasPrefix(rec, "goroutine profile:") { // the header shares the first record
			_, rec, _ = strings.Cut(rec, "\n")
		}
		path, ok := labelValue(rec)
		if !ok || (path != root && !strings.HasPrefix(path, root+"/")) {
			continue
		}
		g := live[path]
		if g == nil {
			g = &goroutines{}
			live[path] = g
		}
		// A record starts with "N @ 0x...": N goroutines share this stack.
		if n, err := strconv.Atoi(rec[:max(strings.IndexByte(rec, ' '), 0)]); err == nil {
			g.count += n
		}
		g.stacks.WriteString(strings.TrimSpace(rec))
		g.stacks.WriteString("\n\n")
	}
	return live
}

// labelValue returns the arbor_child label of one record of a debug=1
// goroutine profile, which carries its labels on a line such as
// `# labels: {"arbor_child":"root/db"}`.
func labelValue(rec string) (string, bool) {
	key := strconv.Quote(labelKey) + ":"
	i := strings.Index(rec, "# labels: ")
	if i < 0 {
		return "", false
	}
	line := rec[i:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	k := strings.Index(line, key)
	if k < 0 {
		return "", false
	}
	quoted, err := strconv.QuotedPrefix(line[k+len(key):])
	if err != nil {
		return "", false
	}
	v, err := strconv.Unquote(quoted)
	return v, err == nil
}
