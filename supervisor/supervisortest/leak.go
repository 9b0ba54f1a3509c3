package supervisortest

import (
	"errors"

	"github.com/arborgo/arbor/supervisor"
)

// TB is the part of testing.TB that FailOnLeak uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// FailOnLeak returns a hook that fails t for every goroutine leak a
// supervisor reports: pass it with supervisor.WithHook, beside
// supervisor.WithLeakCheck, to make a test fail when a child leaves
// goroutines running after it returns. The failure names the child and its
// incarnation and shows the leaked goroutines' stacks.
//
//	sup, _ := supervisor.New("root", specs,
//		supervisor.WithLeakCheck(10*time.Millisecond),
//		supervisor.WithHook(supervisortest.FailOnLeak(t)))
func FailOnLeak(t TB) supervisor.Hook {
	return func(ev supervisor.Event) {
		var le *supervisor.LeakError
		if ev.Kind == supervisor.ChildLeaked && errors.As(ev.Err, &le) {
			t.Helper()
			t.Errorf("%v\n%s", le, le.Stacks)
		}
	}
}
