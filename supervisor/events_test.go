package supervisor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// observed returns a logger that records every entry, and the records.
// observed returns a logger configured as zap.NewDevelopment configures one
// (callers, stack traces from Warn up), and what it logs.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.WarnLevel)), logs
}

// entriesWith returns the logged entries whose "context" field is c.
func entriesWith(logs *observer.ObservedLogs, c string) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, e := range logs.All() {
		if e.ContextMap()["context"] == c {
			out = append(out, e)
		}
	}
	return out
}

// one returns the only entry with context c, failing the test otherwise.
func one(t *testing.T, logs *observer.ObservedLogs, c string) observer.LoggedEntry {
	t.Helper()
	es := entriesWith(logs, c)
	if len(es) != 1 {
		t.Fatalf("%d log entries with context %q, want 1; all: %v", len(es), c, dump(logs))
	}
	return es[0]
}

func dump(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, fmt.Sprintf("%s %q %v", e.Level, e.Message, e.ContextMap()))
	}
	return out
}

// wantFields fails the test unless e has each field with the given value.
func wantFields(t *testing.T, e observer.LoggedEntry, want map[string]any) {
	t.Helper()
	m := e.ContextMap()
	for k, v := range want {
		if m[k] != v {
			t.Errorf("log entry %q: field %s = %v, want %v (all fields %v)", e.Message, k, m[k], v, m)
		}
	}
}

// Events (arbor's hooks): a hook that panics is recovered and logged; the
// supervisor survives and later events still reach the other hooks.
func TestPanickingHookDoesNotStopDelivery(t *testing.T) {
	log, logs := observed()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient,
		supervisor.WithHook(func(supervisor.Event) { panic("hook bug") }),
		supervisor.WithHook(rec.Hook()),
		supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	startT(t, s)
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildExited, "a", 1)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	wantStates(t, s, "a=running")
	if err := stop(t, s); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitEvent(t, rec, supervisor.SupervisorStopped, "", 1)
	if n := logs.FilterMessage("event hook panicked").Len(); n == 0 {
		t.Errorf("the hook's panics were not logged")
	}
}

// Events (arbor's hooks): hooks run off the supervisor's goroutine, so a hook
// that blocks does not block the supervisor: it still answers calls and
// restarts a crashing child.
func TestSlowHookDoesNotBlockRestarts(t *testing.T) {
	blocked := make(chan struct{})
	gate, open := newGate(t)
	var once sync.Once
	slow := func(supervisor.Event) {
		once.Do(func() {
			close(blocked)
			<-gate
		})
	}
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient,
		supervisor.WithHook(slow), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	recv(t, blocked, "the hook to block")

	a.crash(t, errBoom)
	a.waitStart(t, 2)
	settle(t, s)
	infos := wantStates(t, s, "a=running")
	if find(t, infos, "a").Restarts != 1 {
		t.Errorf("a: Restarts %d, want 1", find(t, infos, "a").Restarts)
	}
	if n := rec.Count(supervisor.ChildExited, ""); n != 0 {
		t.Fatalf("events reached the second hook while the first was blocked")
	}
	open()
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
}

// a12: a crash is logged at error level as a child_terminated report with
// the supervisor, the child and the reason.
func TestLogChildTerminated(t *testing.T) {
	log, logs := observed()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient,
		supervisor.WithLogger(log), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	a.crash(t, errBoom)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2) // logged before hooks see it
	e := one(t, logs, "child_terminated")
	if e.Level != zapcore.ErrorLevel {
		t.Errorf("child_terminated logged at %v, want error", e.Level)
	}
	wantFields(t, e, map[string]any{"supervisor": "root", "child": "a", "error": "boom"})
	if e.Stack != "" || e.Caller.Defined {
		t.Errorf("report with stack %q and caller %v: want neither (the loop's own stack and line say nothing)", e.Stack, e.Caller)
	}
}

// a12, panics: a panic is logged as child_terminated with the panic value and
// its stack in their own fields.
func TestLogPanic(t *testing.T) {
	log, logs := observed()
	p := &panicOnce{value: "kaboom", trigger: make(chan struct{})}
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{{ID: "p", Service: p, AwaitReady: true}}, lenient,
		supervisor.WithLogger(log), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	p.trigger <- struct{}{}
	waitEvent(t, rec, supervisor.ChildExited, "p", 1)
	e := one(t, logs, "child_terminated")
	if e.Level != zapcore.ErrorLevel {
		t.Errorf("panic logged at %v, want error", e.Level)
	}
	wantFields(t, e, map[string]any{"supervisor": "root", "child": "p", "panic": "kaboom"})
	if !strings.Contains(e.Stack, "supervisor_test.explode") {
		t.Errorf("the entry's stack does not name the panicking function: %q", e.Stack)
	}
	if _, ok := e.ContextMap()["stack"]; ok {
		t.Error("the stack is also a field: want it once, as the entry's stack")
	}
	if e.Caller.Defined {
		t.Errorf("the report has a caller (%v): arbor's own code says nothing to its reader", e.Caller)
	}
}

// a12, a3: a failed start is logged once, as a start_error report naming the
// child.
func TestLogStartError(t *testing.T) {
	log, logs := observed()
	bad := child.Func(func(ctx context.Context) error { return errStartFail })
	s := mustNew(t, "root", []child.Spec{
		{ID: "a", Service: newProbe("a", nil)},
		{ID: "c", Service: bad, AwaitReady: true},
	}, supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	if err := serveAsync(t, s).wait(t); err == nil {
		t.Fatal("Serve succeeded with a failing child")
	}
	e := one(t, logs, "start_error")
	if e.Level != zapcore.ErrorLevel {
		t.Errorf("start_error logged at %v, want error", e.Level)
	}
	wantFields(t, e, map[string]any{"supervisor": "root", "child": "c"})
	if reason, _ := e.ContextMap()["error"].(string); !strings.Contains(reason, errStartFail.Error()) {
		t.Errorf("start_error reason %q does not carry the child's error", reason)
	}
}

// a12, a6: giving up is logged as reached_max_restart_intensity after the
// crash's child_terminated report and before the remaining children stop.
func TestLogGiveUp(t *testing.T) {
	log, logs := observed()
	a, b := newProbe("a", nil), newProbe("b", nil)
	s := mustNew(t, "root", []child.Spec{pspec(a), pspec(b)},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	startT(t, s)
	b.crash(t, errBoom)
	waitSup(t, s)

	e := one(t, logs, "reached_max_restart_intensity")
	if e.Level != zapcore.ErrorLevel {
		t.Errorf("give-up logged at %v, want error", e.Level)
	}
	wantFields(t, e, map[string]any{"supervisor": "root", "child": "b", "reason": "reached_max_restart_intensity"})

	var order []string
	for _, e := range logs.All() {
		m := e.ContextMap()
		switch {
		case m["context"] == "child_terminated", m["context"] == "reached_max_restart_intensity":
			order = append(order, m["context"].(string)+" "+m["child"].(string))
		case e.Message == "child stopped":
			order = append(order, "stopped "+m["child"].(string))
		}
	}
	want := []string{"child_terminated b", "reached_max_restart_intensity b", "stopped a"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("log order %q, want %q", order, want)
	}
}

// a12: StartChild and RestartChild return a failed start to the caller
// instead of logging a start_error report.
func TestLogNoStartErrorForAPICalls(t *testing.T) {
	log, logs := observed()
	a := newProbe("a", nil)
	fail := false // read by a's next start; set only while a is stopped
	a.onStart = func(ctx context.Context, n int) error {
		if fail {
			return errStartFail
		}
		return nil
	}
	s := mustNew(t, "root", []child.Spec{pspec(a)}, supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	startT(t, s)
	ctx := testCtx(t)
	bad := child.Spec{ID: "bad", AwaitReady: true, Service: child.Func(func(ctx context.Context) error { return errBoom })}
	if err := s.StartChild(ctx, bad); err == nil {
		t.Fatal("StartChild(failing) succeeded")
	}
	if err := s.TerminateChild(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	fail = true
	if err := s.RestartChild(ctx, "a"); err == nil {
		t.Fatal("RestartChild(failing) succeeded")
	}
	settle(t, s)
	if es := entriesWith(logs, "start_error"); len(es) != 0 {
		t.Errorf("%d start_error reports for API calls, want none: %v", len(es), dump(logs))
	}
}

// a12: a progress report for each successful start of a static child. Arbor
// logs it at debug level, as OTP has since OTP 21 (docs/semantics.md).
func TestLogStartedProgressReportAtDebug(t *testing.T) {
	log, logs := observed()
	s := mustNew(t, "root", []child.Spec{pspec(newProbe("a", nil))}, supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	startT(t, s)
	e := one(t, logs, "started")
	if e.Level != zapcore.DebugLevel {
		t.Errorf("started report logged at %v, want debug", e.Level)
	}
	wantFields(t, e, map[string]any{"supervisor": "root", "child": "a"})
}

// a12: each report carries each key once; a give-up triggered by a panic
// must not log two "reason" fields (the panic's and the give-up's).
func TestLogGiveUpAfterPanicHasOneReason(t *testing.T) {
	log, logs := observed()
	p := &panicOnce{value: "kaboom", trigger: make(chan struct{})}
	s := mustNew(t, "root", []child.Spec{{ID: "p", Service: p, AwaitReady: true}},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Hour}),
		supervisor.WithLogger(log), supervisor.WithClock(newClock()))
	startT(t, s)
	p.trigger <- struct{}{}
	waitSup(t, s)
	for _, e := range logs.All() {
		seen := map[string]int{}
		for _, f := range e.Context {
			seen[f.Key]++
		}
		for k, n := range seen {
			if n > 1 {
				t.Errorf("log entry %q has key %q %d times", e.Message, k, n)
			}
		}
	}
	wantFields(t, one(t, logs, "reached_max_restart_intensity"), map[string]any{"reason": "reached_max_restart_intensity", "panic": "kaboom"})
}

// A permanent child that returned nil is restarted, and the
// report says how to make it finish instead.
func TestLogPermanentNilExitHints(t *testing.T) {
	log, logs := observed()
	a := newProbe("a", nil)
	rec := supervisortest.NewRecorder()
	s := mustNew(t, "root", []child.Spec{pspec(a)}, lenient,
		supervisor.WithLogger(log), supervisor.WithHook(rec.Hook()), supervisor.WithClock(newClock()))
	startT(t, s)
	a.crash(t, nil)
	waitEvent(t, rec, supervisor.ChildStarted, "a", 2)
	e := one(t, logs, "child_terminated")
	if h, _ := e.ContextMap()["hint"].(string); !strings.Contains(h, "Transient") {
		t.Errorf("report fields %v: want a hint to make the child Transient", e.ContextMap())
	}
}
