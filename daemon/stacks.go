package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// readableStacks rewrites goroutine stacks as the goroutine profile prints
// them at debug level 1 (supervisor.GoroutineStacks) into the shape of a Go
// panic's traceback, without program counters: for each group of identical
// goroutines, a count, then each frame's function and, indented below it,
// its file:line.
//
//	2 goroutines:
//	main.(*worker).Serve
//		/src/app/worker.go:42
//	github.com/arborgo/arbor/internal/runner.Run
//		/src/arbor/internal/runner/runner.go:61
//
// A line it cannot read is kept as it is, so nothing is lost.
func readableStacks(profile string) string {
	var b strings.Builder
	for rec := range strings.SplitSeq(strings.TrimSpace(profile), "\n\n") {
		rec = strings.TrimSpace(rec)
		if rec == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		for i, line := range strings.Split(rec, "\n") {
			if i == 0 {
				if n, _, ok := strings.Cut(line, " @ "); ok {
					if c, err := strconv.Atoi(n); err == nil {
						fmt.Fprintf(&b, "%d goroutine%s:\n", c, plural(c))
						continue
					}
				}
			}
			if strings.HasPrefix(line, "# labels:") {
				continue // the path is a field of the report
			}
			fields := strings.Fields(strings.TrimPrefix(line, "#"))
			if len(fields) == 3 && strings.HasPrefix(fields[0], "0x") {
				fn := fields[1]
				if j := strings.LastIndex(fn, "+0x"); j > 0 {
					fn = fn[:j]
				}
				fmt.Fprintf(&b, "%s\n\t%s\n", fn, fields[2])
				continue
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// logWithStacks writes an entry whose stack is stacks, made readable: a
// console encoder prints it on lines of its own after the entry, a JSON
// encoder under its stacktrace key. It replaces any stack the logger would
// have added, which would only show the daemon's own goroutine.
func logWithStacks(log *zap.Logger, level zapcore.Level, msg, stacks string, fields ...zap.Field) {
	ce := log.Check(level, msg)
	if ce == nil {
		return
	}
	ce.Stack = readableStacks(stacks)
	ce.Write(fields...)
}
