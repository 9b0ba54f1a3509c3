package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds every wait, so a bug fails a test instead of hanging it.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// journal records what children did, in order, across goroutines.
type journal struct {
	mu    sync.Mutex
	lines []string
	added chan struct{} // closed at the next add, if someone waits for it
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	if j.added != nil {
		close(j.added)
		j.added = nil
	}
	j.mu.Unlock()
}

// waitFor waits until the journal holds line, and fails the test if it does
// not within testTimeout.
func (j *journal) waitFor(t *testing.T, line string) {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		j.mu.Lock()
		if slices.Contains(j.lines, line) {
			j.mu.Unlock()
			return
		}
		if j.added == nil {
			j.added = make(chan struct{})
		}
		added := j.added
		j.mu.Unlock()
		select {
		case <-added:
		case <-timeout:
			t.Fatalf("journal %q, want %q", j.get(), line)
		}
	}
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// worker reports ready, runs until its context is cancelled and journals its stop.
func worker(id string, j *journal) child.Spec {
	return child.Spec{ID: id, AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
		j.add("start " + id)
		child.Ready(ctx)
		<-ctx.Done()
		j.add("stop " + id)
		return ctx.Err()
	})}
}

// stuck is a child that ignores its context until released: it closes
// stopping once asked to stop and returned when it finally returns.
type stuck struct {
	release   chan struct{}
	stopping  chan struct{}
	returned  chan struct{}
	onceStop  sync.Once
	onceClose sync.Once
}

func newStuck() *stuck {
	return &stuck{release: make(chan struct{}), stopping: make(chan struct{}), returned: make(chan struct{})}
}

func (s *stuck) Serve(ctx context.Context) error {
	defer close(s.returned)
	child.Ready(ctx)
	<-ctx.Done()
	s.onceStop.Do(func() { close(s.stopping) })
	<-s.release
	return nil
}

// free lets the stuck child return and waits until it has.
func (s *stuck) free(t *testing.T) {
	t.Helper()
	s.onceClose.Do(func() { close(s.release) })
	select {
	case <-s.returned:
	case <-time.After(testTimeout):
		t.Fatal("stuck child did not return")
	}
}

// harness runs daemon.Run on a goroutine with injected signals and an
// observed logger.
type harness struct {
	t    *testing.T
	sigs chan os.Signal
	logs *observer.ObservedLogs
	code chan int
}

func startRun(t *testing.T, ctx context.Context, sup *supervisor.Supervisor, opts ...daemon.Option) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{t: t, sigs: make(chan os.Signal, 2), logs: logs, code: make(chan int, 1)}
	opts = append([]daemon.Option{daemon.WithSignals(h.sigs), daemon.WithLogger(zap.New(core))}, opts...)
	go func() { h.code <- daemon.Run(ctx, sup, opts...) }()
	return h
}

func (h *harness) wait() int {
	h.t.Helper()
	select {
	case c := <-h.code:
		return c
	case <-time.After(testTimeout):
		h.t.Fatal("Run did not return")
		return -1
	}
}

// messages returns the logged messages, in order.
func (h *harness) messages() []string {
	var out []string
	for _, e := range h.logs.All() {
		out = append(out, e.Message)
	}
	return out
}

func waitReady(t *testing.T, rec *supervisortest.Recorder, root string) {
	t.Helper()
	ctx := testCtx(t)
	for n := 1; ; n++ {
		ev, err := rec.WaitForNth(ctx, supervisor.SupervisorReady, "", n)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Supervisor == root {
			return
		}
	}
}

func TestRunCleanStopInReverseOrder(t *testing.T) {
	j := &journal{}
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{worker("a", j), worker("b", j), worker("c", j)}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup)
	waitReady(t, rec, "root")
	h.sigs <- syscall.SIGTERM
	if code := h.wait(); code != daemon.ExitOK {
		t.Fatalf("exit code %d, want %d; logs %q", code, daemon.ExitOK, h.messages())
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	// "started" is logged too, but the signal may be seen first: the root
	// reports ready to its hooks just before it reports ready to Run.
	wantLogs := []string{"starting", "shutdown requested", "stopped"}
	if got := slices.DeleteFunc(h.messages(), func(m string) bool { return m == "started" }); !slices.Equal(got, wantLogs) {
		t.Errorf("logs %q, want %q", got, wantLogs)
	}
	if e := h.logs.FilterMessage("shutdown requested").All(); len(e) != 1 || e[0].ContextMap()["signal"] != syscall.SIGTERM.String() {
		t.Errorf("shutdown log %+v, want the signal named", e)
	}
}

func TestRunContextEndIsAStop(t *testing.T) {
	j := &journal{}
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{worker("a", j)}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := startRun(t, ctx, sup)
	waitReady(t, rec, "root")
	cancel()
	if code := h.wait(); code != daemon.ExitOK {
		t.Fatalf("exit code %d, want %d", code, daemon.ExitOK)
	}
	if got := j.get(); !slices.Equal(got, []string{"start a", "stop a"}) {
		t.Errorf("journal %q", got)
	}
}

func TestRunStartFailed(t *testing.T) {
	j := &journal{}
	sup, err := supervisor.New("root", []child.Spec{
		worker("a", j),
		{ID: "bad", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			return errors.New("cannot bind")
		})},
		worker("never", j),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup)
	if code := h.wait(); code != daemon.ExitStartFailed {
		t.Fatalf("exit code %d, want %d", code, daemon.ExitStartFailed)
	}
	if got := j.get(); !slices.Equal(got, []string{"start a", "stop a"}) {
		t.Errorf("journal %q", got)
	}
	e := h.logs.FilterMessage("start failed").All()
	if len(e) != 1 || !strings.Contains(e[0].ContextMap()["error"].(string), "cannot bind") {
		t.Errorf("start failure log %+v", e)
	}
}

func TestRunRootGaveUp(t *testing.T) {
	crash := make(chan error)
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{
		{ID: "flaky", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			select {
			case err := <-crash:
				return err
			case <-ctx.Done():
				return nil
			}
		})},
	}, supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 0, Period: time.Minute}), supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup)
	waitReady(t, rec, "root")
	crash <- errors.New("lost the connection")
	if code := h.wait(); code != daemon.ExitGaveUp {
		t.Fatalf("exit code %d, want %d", code, daemon.ExitGaveUp)
	}
	if e := h.logs.FilterMessage("root supervisor gave up").All(); len(e) != 1 {
		t.Errorf("logs %q, want a give-up report", h.messages())
	}
}

func TestRunShutdownOverBudget(t *testing.T) {
	j := &journal{}
	s := newStuck()
	defer s.free(t)
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("overrun", []child.Spec{
		worker("first", j),
		{ID: "stuck", Service: s, AwaitReady: true, Shutdown: time.Hour},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup, daemon.WithShutdownBudget(50*time.Millisecond))
	waitReady(t, rec, "overrun")
	h.sigs <- syscall.SIGTERM
	if code := h.wait(); code != daemon.ExitForced {
		t.Fatalf("exit code %d, want %d; logs %q", code, daemon.ExitForced, h.messages())
	}
	e := h.logs.FilterMessage("child abandoned: did not stop within its budget").FilterField(zap.String("path", "overrun/stuck")).All()
	if len(e) != 1 {
		t.Fatalf("logs %q, want an abandoned-child report for root/stuck", h.messages())
	}
	checkReadableStack(t, e[0].Stack)
	// The budget ran out with the child declared first still to stop: the
	// root abandons what still runs at the deadline, so first may or may not
	// have returned in time, but it was at least asked to stop. Its context
	// was cancelled, so it journals its stop, if not before Run returned then
	// soon after.
	j.waitFor(t, "stop first")
}

// checkReadableStack checks that a report's stack names the stuck child's
// frame with its file and line, and carries no program counters.
func checkReadableStack(t *testing.T, stack string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^github.com/arborgo/arbor/daemon_test\.\(\*stuck\)\.Serve\n\t\S+/daemon_test\.go:\d+$`).MatchString(stack) {
		t.Errorf("report stack, want the stuck child's frame as function, then file:line:\n%s", stack)
	}
	if strings.Contains(stack, "0x") {
		t.Errorf("report stack carries program counters:\n%s", stack)
	}
}

func TestRunSecondSignalForces(t *testing.T) {
	s := newStuck()
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("forced", []child.Spec{
		{ID: "stuck", Service: s, AwaitReady: true, Shutdown: child.Infinity},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup, daemon.WithShutdownBudget(time.Hour))
	waitReady(t, rec, "forced")
	h.sigs <- syscall.SIGTERM
	<-s.stopping
	h.sigs <- os.Interrupt
	if code := h.wait(); code != daemon.ExitForced {
		t.Fatalf("exit code %d, want %d", code, daemon.ExitForced)
	}
	if e := h.logs.FilterMessage("forced shutdown: second signal").All(); len(e) != 1 {
		t.Errorf("logs %q, want one forced-shutdown report", h.messages())
	}
	e := h.logs.FilterMessage("still running").All()
	if len(e) != 1 || e[0].ContextMap()["path"] != "forced/stuck" {
		t.Fatalf("still-running report %+v, want forced/stuck", e)
	}
	checkReadableStack(t, e[0].Stack)
	if n := e[0].ContextMap()["goroutines"]; n != int64(1) {
		t.Errorf("still-running goroutines %v, want 1", n)
	}
	// The tree was still stopping when Run returned; let it finish.
	s.free(t)
	if err := sup.Wait(); err != nil {
		t.Errorf("Serve after the child returned: %v", err)
	}
}

func TestRunSignalDuringStart(t *testing.T) {
	entered := make(chan struct{})
	sup, err := supervisor.New("root", []child.Spec{
		{ID: "slow", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			close(entered)
			<-ctx.Done() // never ready
			return ctx.Err()
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup)
	<-entered
	h.sigs <- syscall.SIGTERM
	if code := h.wait(); code != daemon.ExitOK {
		t.Fatalf("exit code %d, want %d (an interrupted start that stops cleanly); logs %q", code, daemon.ExitOK, h.messages())
	}
}

// The total budget reaches every level of the tree as the children's
// child.StopDeadline.
func TestRunBudgetReachesNestedChildren(t *testing.T) {
	const budget = 10 * time.Second
	deadlines := make(chan time.Time, 1)
	inner, err := supervisor.New("inner", []child.Spec{
		{ID: "leaf", AwaitReady: true, Shutdown: time.Hour, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			d, ok := child.StopDeadline(ctx)
			if !ok {
				return errors.New("no stop deadline")
			}
			deadlines <- d
			return nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{{ID: "inner", Service: inner, Kind: child.KindSupervisor}}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup, daemon.WithShutdownBudget(budget))
	waitReady(t, rec, "root")
	before := time.Now()
	h.sigs <- syscall.SIGTERM
	if code := h.wait(); code != daemon.ExitOK {
		t.Fatalf("exit code %d", code)
	}
	after := time.Now()
	select {
	case d := <-deadlines:
		if d.Before(before.Add(budget)) || d.After(after.Add(budget)) {
			t.Errorf("leaf deadline %v, want within the %v budget from the signal (%v)", d, budget, before)
		}
	default:
		t.Fatal("leaf reported no deadline")
	}
}

func TestRunAutoShutdownIsClean(t *testing.T) {
	sup, err := supervisor.New("root", []child.Spec{
		{ID: "job", Restart: child.Transient, Significant: true, Service: child.Func(func(ctx context.Context) error {
			return nil // done
		})},
	}, supervisor.WithAutoShutdown(supervisor.AutoShutdownAnySignificant))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup)
	if code := h.wait(); code != daemon.ExitOK {
		t.Fatalf("exit code %d, want %d", code, daemon.ExitOK)
	}
	if e := h.logs.FilterMessage("stopped by itself").All(); len(e) != 1 {
		t.Errorf("logs %q", h.messages())
	}
}

func TestRunMisuse(t *testing.T) {
	sup, err := supervisor.New("root", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		sup *supervisor.Supervisor
		opt daemon.Option
	}{
		"nil supervisor":              {sup: nil},
		"zero budget":                 {sup: sup, opt: daemon.WithShutdownBudget(0)},
		"negative budget":             {sup: sup, opt: daemon.WithShutdownBudget(-time.Second)},
		"nil signals":                 {sup: sup, opt: daemon.WithSignals(nil)},
		"nil logger":                  {sup: sup, opt: daemon.WithLogger(nil)},
		"negative delay":              {sup: sup, opt: daemon.WithShutdownDelay(-time.Second)},
		"delay as long as the budget": {sup: sup, opt: daemon.WithShutdownDelay(daemon.DefaultShutdownBudget)},
	} {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			// The logger goes last, so a nil logger is overridden and the
			// misuse is still reported where the test can see it.
			opts := []daemon.Option{daemon.WithSignals(make(chan os.Signal)), tc.opt, daemon.WithLogger(zap.New(core))}
			if code := daemon.Run(context.Background(), tc.sup, opts...); code != daemon.ExitStartFailed {
				t.Fatalf("exit code %d, want %d", code, daemon.ExitStartFailed)
			}
			if e := logs.All(); len(e) != 1 || e[0].Level != zapcore.ErrorLevel {
				t.Errorf("logs %v, want one error", e)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	startErr := &supervisor.StartError{Supervisor: "root", Child: "db", Err: errors.New("refused")}
	interrupted := &supervisor.StartError{Supervisor: "root", Child: "db", Err: supervisor.ErrStopping}
	giveUp := &supervisor.GiveUpError{Supervisor: "root", Child: "db", Err: errors.New("crash"), Reason: escalation.ErrExceeded}
	backoffStop := &supervisor.GiveUpError{Supervisor: "root", Child: "db", Err: errors.New("crash"), Reason: supervisor.ErrBackoffStop}
	timeout := &supervisor.StopTimeoutError{Supervisor: "root", Child: "db", Budget: time.Second}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, daemon.ExitOK},
		{"start failed", startErr, daemon.ExitStartFailed},
		{"start failed, then a stop timeout", errors.Join(startErr, timeout), daemon.ExitStartFailed},
		{"start interrupted by a stop", interrupted, daemon.ExitOK},
		{"start interrupted, then a stop timeout", errors.Join(interrupted, timeout), daemon.ExitForced},
		{"gave up", giveUp, daemon.ExitGaveUp},
		{"gave up, wrapped", fmt.Errorf("serve: %w", giveUp), daemon.ExitGaveUp},
		{"backoff gave up", backoffStop, daemon.ExitGaveUp},
		{"gave up, then a stop timeout", errors.Join(giveUp, timeout), daemon.ExitGaveUp},
		{"stop timeout", timeout, daemon.ExitForced},
		{"two stop timeouts", errors.Join(timeout, timeout), daemon.ExitForced},
		{"other", errors.New("surprise"), daemon.ExitStartFailed},
	} {
		if got := daemon.ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.want)
		}
	}
	if !errors.Is(giveUp, escalation.ErrExceeded) {
		t.Fatal("GiveUpError no longer matches escalation.ErrExceeded")
	}
}

// If the root does not return by the end of the budget (here its own
// logger blocks it while it reports the abandonment of its stuck child), Run
// does not wait for it: after a short grace it reports what is still running
// and returns ExitForced.
func TestRunOverBudgetRootStillRunning(t *testing.T) {
	s := newStuck()
	rec := supervisortest.NewRecorder()
	blocked := newBlockingCore()
	sup, err := supervisor.New("overbudget", []child.Spec{{ID: "stuck", Service: s, AwaitReady: true}},
		supervisor.WithLogger(zap.New(blocked)), supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	h := startRun(t, context.Background(), sup, daemon.WithShutdownBudget(20*time.Millisecond))
	waitReady(t, rec, "overbudget")
	h.sigs <- syscall.SIGTERM
	code := h.wait()
	blocked.release()
	s.free(t)
	if err := sup.Wait(); !errors.Is(err, supervisor.ErrStopTimeout) {
		t.Errorf("Serve = %v, want the stuck child's abandonment", err)
	}
	if code != daemon.ExitForced {
		t.Fatalf("exit code %d, want %d; logs %q", code, daemon.ExitForced, h.messages())
	}
	if e := h.logs.FilterMessage("shutdown overran its budget").All(); len(e) != 1 {
		t.Errorf("logs %q, want an over-budget report", h.messages())
	}
	if e := h.logs.FilterMessage("still running").FilterField(zap.String("path", "overbudget/stuck")).All(); len(e) != 1 {
		t.Errorf("logs %q, want overbudget/stuck reported as still running", h.messages())
	}
}

// blockingCore is a zap core whose writes of error-level entries block
// until release: a supervisor logging through it is held up in its own loop.
type blockingCore struct {
	zapcore.LevelEnabler
	gate chan struct{}
	once *sync.Once
}

func newBlockingCore() blockingCore {
	return blockingCore{LevelEnabler: zapcore.DebugLevel, gate: make(chan struct{}), once: &sync.Once{}}
}

func (c blockingCore) release()                                   { c.once.Do(func() { close(c.gate) }) }
func (c blockingCore) With([]zapcore.Field) zapcore.Core          { return c }
func (c blockingCore) Sync() error                                { return nil }
func (c blockingCore) Write(zapcore.Entry, []zapcore.Field) error { return nil }

func (c blockingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level >= zapcore.ErrorLevel {
		<-c.gate
	}
	return ce
}

// delayLogger returns a logger that records its entries and closes the
// returned channel when Run logs the start of the shutdown delay.
func delayLogger() (*zap.Logger, *observer.ObservedLogs, <-chan struct{}) {
	core, logs := observer.New(zapcore.DebugLevel)
	delaying := make(chan struct{})
	var once sync.Once
	log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "shutdown delay: unready, still serving" {
			once.Do(func() { close(delaying) })
		}
		return nil
	}))
	return log, logs, delaying
}

// With a shutdown delay, the signal turns readiness to 503 at once while the
// tree goes on serving; the stop begins at the end of the delay, here cut
// short by the end of Run's context, and is clean.
func TestRunShutdownDelay(t *testing.T) {
	j := &journal{}
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{worker("a", j)}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, logs, delaying := delayLogger()
	sigs := make(chan os.Signal, 2)
	code := make(chan int, 1)
	go func() {
		code <- daemon.Run(ctx, sup, daemon.WithSignals(sigs), daemon.WithLogger(log),
			daemon.WithShutdownBudget(2*time.Hour), daemon.WithShutdownDelay(time.Hour))
	}()
	waitReady(t, rec, "root")
	ready := health.Readyz(sup)
	before := httptest.NewRecorder()
	ready.ServeHTTP(before, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if before.Code != http.StatusOK {
		t.Fatalf("/readyz before the signal = %d", before.Code)
	}
	sigs <- syscall.SIGTERM
	select {
	case <-delaying:
	case <-time.After(testTimeout):
		t.Fatal("no shutdown delay")
	}
	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "[-]shutdown failed") {
		t.Errorf("/readyz during the delay = %d\n%s", w.Code, w.Body)
	}
	if info, err := sup.Info(testCtx(t)); err != nil || info.Stopping || slices.Contains(j.get(), "stop a") {
		t.Errorf("the tree stopped during the delay: %+v %v %q", info, err, j.get())
	}
	// The tree page learns the deadline: the budget from the signal on.
	if a, ok := health.AnnouncedShutdown(sup); !ok || a.Deadline.Sub(a.Began) != 2*time.Hour {
		t.Errorf("announcement %+v, %v; want the 2h budget", a, ok)
	}

	cancel()
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Fatalf("exit code %d", c)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return")
	}
	if got := j.get(); !slices.Equal(got, []string{"start a", "stop a"}) {
		t.Errorf("journal %q", got)
	}
	if _, ok := health.AnnouncedShutdown(sup); ok {
		t.Error("the shutdown is still announced after Run returned")
	}
	if n := logs.FilterMessage("shutdown delay cut short: the context ended").Len(); n != 1 {
		t.Errorf("logs lack the cut-short delay: %v", logs.All())
	}
}

// A second signal during the delay forces the exit.
func TestRunShutdownDelaySecondSignal(t *testing.T) {
	j := &journal{}
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", []child.Spec{worker("a", j)}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	log, _, delaying := delayLogger()
	sigs := make(chan os.Signal, 2)
	code := make(chan int, 1)
	go func() {
		code <- daemon.Run(context.Background(), sup, daemon.WithSignals(sigs), daemon.WithLogger(log),
			daemon.WithShutdownBudget(2*time.Hour), daemon.WithShutdownDelay(time.Hour))
	}()
	waitReady(t, rec, "root")
	sigs <- syscall.SIGTERM
	<-delaying
	sigs <- os.Interrupt
	if c := <-code; c != daemon.ExitForced {
		t.Fatalf("exit code %d, want %d", c, daemon.ExitForced)
	}
	// Forced: the tree still runs; stop it.
	if err := sup.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
