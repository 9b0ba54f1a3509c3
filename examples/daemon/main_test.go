package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/prom"

	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// phases records the shutdown phases as they happen, and lets a test wait
// for one.
type phases struct {
	mu   sync.Mutex
	seen []string
	c    chan Phase // every phase, buffered
}

func newPhases() *phases { return &phases{c: make(chan Phase, 16)} }

func (p *phases) record(ph Phase) {
	p.mu.Lock()
	p.seen = append(p.seen, ph.String())
	p.mu.Unlock()
	p.c <- ph
}

func (p *phases) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *phases) waitFor(t *testing.T, want Phase) {
	t.Helper()
	for {
		select {
		case ph := <-p.c:
			if ph == want {
				return
			}
		case <-time.After(testTimeout):
			t.Fatalf("phase %v did not happen; seen %q", want, p.get())
		}
	}
}

func do(t *testing.T, c *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The daemon's tree, run in process by daemon.Run: a request in flight and a
// queued job at the moment of SIGTERM both complete, and the three phases
// run in order.
func TestShutdownPhasesInOrder(t *testing.T) {
	ph := newPhases()
	working, gate := make(chan string, 4), make(chan struct{})
	// The first job holds its worker until the test opens the gate.
	work := func(ctx context.Context, s *Store, j Job) error {
		working <- j.Key
		if j.Key == "held" {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return storeJob(ctx, s, j)
	}
	rec := supervisortest.NewRecorder()
	log := zaptest.NewLogger(t)
	root, app, err := newTree(Config{
		Addr: "127.0.0.1:0", Workers: 1, QueueSize: 8, Budget: 10 * time.Second,
		Log: log, Work: work, OnPhase: ph.record, Hooks: []supervisor.Hook{rec.Hook()},
	})
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- daemon.Run(context.Background(), root, daemon.WithSignals(sigs), daemon.WithShutdownBudget(10*time.Second), daemon.WithLogger(log))
	}()
	if _, err := rec.WaitFor(testCtx(t), supervisor.SupervisorReady, ""); err != nil {
		t.Fatal(err)
	}
	base := "http://" + app.Addr().String()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	// Ordinary requests.
	if status, body := do(t, client, http.MethodGet, base+"/", ""); status != 200 || body != "arbor example daemon" {
		t.Fatalf("GET / = %d %q", status, body)
	}
	if status, _ := do(t, client, http.MethodPut, base+"/kv/greeting", "hello"); status != http.StatusNoContent {
		t.Fatalf("PUT /kv/greeting = %d", status)
	}
	if status, body := do(t, client, http.MethodGet, base+"/kv/greeting", ""); status != 200 || body != "hello" {
		t.Fatalf("GET /kv/greeting = %d %q", status, body)
	}

	// A request in flight, waiting on a job a worker holds, and a second job
	// queued behind it.
	type result struct {
		status int
		body   string
	}
	inFlight := make(chan result, 1)
	go func() {
		s, b := do(t, client, http.MethodPost, base+"/jobs?key=held&value=1&wait", "")
		inFlight <- result{s, b}
	}()
	if k := <-working; k != "held" {
		t.Fatalf("worker took %q first", k)
	}
	if status, _ := do(t, client, http.MethodPost, base+"/jobs?key=queued&value=2", ""); status != http.StatusAccepted {
		t.Fatalf("POST /jobs (queued) = %d", status)
	}

	ready := health.Readyz(root)
	sigs <- syscall.SIGTERM
	ph.waitFor(t, Phase{N: 1, Name: "stop accepting, finish in-flight requests"})

	// Shutdown has begun: not ready, and phase 1 waits for the request in
	// flight.
	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "[-]shutdown failed") {
		t.Errorf("/readyz during shutdown = %d\n%s", w.Code, w.Body)
	}
	select {
	case r := <-inFlight:
		t.Fatalf("the in-flight request ended before its job: %+v", r)
	default:
	}

	close(gate)
	if r := <-inFlight; r.status != 200 || r.body != "done" {
		t.Errorf("in-flight request = %+v, want 200 done", r)
	}
	ph.waitFor(t, Phase{N: 1, Name: "stop accepting, finish in-flight requests", Done: true})
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("a new connection was accepted after phase 1")
	}
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Fatalf("exit code %d", c)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return")
	}

	want := []string{
		"1 stop accepting, finish in-flight requests begin", "1 stop accepting, finish in-flight requests done",
		"2 drain the worker queue begin", "2 drain the worker queue done",
		"3 close the resource begin", "3 close the resource done",
	}
	if got := ph.get(); !slices.Equal(got, want) {
		t.Errorf("phases\n%q\nwant\n%q", got, want)
	}
	// The queued job was drained in phase 2, before the store closed.
	if k := <-working; k != "queued" {
		t.Errorf("second job %q", k)
	}
	for key, want := range map[string]string{"greeting": "hello", "held": "1", "queued": "2"} {
		if got := app.store.data[key]; got != want {
			t.Errorf("store[%q] = %q, want %q", key, got, want)
		}
	}
}

// Each phase's slice of the budget is its child's shutdown budget, and the
// slices fit in the total.
func TestBudgets(t *testing.T) {
	requests, drain, closing := budgets(25 * time.Second)
	if requests+drain+closing > 25*time.Second {
		t.Errorf("slices %v %v %v exceed the total", requests, drain, closing)
	}
	root, _, err := newTree(Config{Addr: "127.0.0.1:0", Workers: 1, QueueSize: 1, Budget: 25 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Duration{"api": requests, "workers": drain, "store": closing} {
		spec, err := root.ChildSpec(testCtx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Shutdown != want {
			t.Errorf("%s: Shutdown %v, want %v", id, spec.Shutdown, want)
		}
	}
	if err := root.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// The command stops by itself after -duration, cleanly.
func TestRunWithDuration(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(testCtx(t), []string{"-port=0", "-admin-port=0", "-duration=50ms", "-workers=2"}, &stderr); code != daemon.ExitOK {
		t.Fatalf("exit code %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"listening", "shutdown requested", "close the resource", `"exit_code": 0`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-workers=0"}, {"-shutdown-budget=-1s"}, {"-shutdown-delay=-1s"}, {"-shutdown-delay=30s", "-shutdown-budget=30s"}} {
		var stderr bytes.Buffer
		if code := run(testCtx(t), args, &stderr); code != exitUsage {
			t.Errorf("%q: exit code %d, want %d", args, code, exitUsage)
		}
	}
	if code := run(testCtx(t), []string{"-h"}, io.Discard); code != 0 {
		t.Errorf("-h: exit code %d", code)
	}
}

// startDaemon runs the daemon's tree under daemon.Run with a job that a
// worker holds until the test ends, and returns what the tests need.
type started struct {
	root    *supervisor.Supervisor
	app     *App
	rec     *supervisortest.Recorder
	logs    *observer.ObservedLogs
	sigs    chan os.Signal
	code    chan int
	working chan string
	delay   chan struct{} // closed when Run logs the start of the shutdown delay
}

func startDaemon(t *testing.T, ctx context.Context, budget, delay time.Duration) *started {
	t.Helper()
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	s := &started{rec: supervisortest.NewRecorder(), sigs: make(chan os.Signal, 2), code: make(chan int, 1), working: make(chan string, 4)}
	work := func(ctx context.Context, st *Store, j Job) error {
		s.working <- j.Key
		if j.Key == "held" {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return storeJob(ctx, st, j)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	s.logs = logs
	s.delay = make(chan struct{})
	var once sync.Once
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()), zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "shutdown delay: unready, still serving" {
			once.Do(func() { close(s.delay) })
		}
		return nil
	}))
	var err error
	s.root, s.app, err = newTree(Config{
		Addr: "127.0.0.1:0", Workers: 1, QueueSize: 8, Budget: budget, Delay: delay,
		Log: log, Work: work, Hooks: []supervisor.Hook{s.rec.Hook()},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		s.code <- daemon.Run(ctx, s.root, daemon.WithSignals(s.sigs), daemon.WithShutdownBudget(budget),
			daemon.WithShutdownDelay(delay), daemon.WithLogger(log))
	}()
	if _, err := s.rec.WaitFor(testCtx(t), supervisor.SupervisorReady, ""); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *started) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-s.code:
		return c
	case <-time.After(testTimeout):
		t.Fatal("Run did not return")
		return -1
	}
}

// A request still in flight when phase 1's slice runs out is cut, and the
// cut is logged as a warning with the count; the daemon still stops cleanly.
func TestDeadlineCutWarns(t *testing.T) {
	s := startDaemon(t, context.Background(), 4*time.Second, 0)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	cut := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, "http://"+s.app.Addr().String()+"/jobs?key=held&value=1&wait", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cut <- err
	}()
	if k := <-s.working; k != "held" {
		t.Fatalf("worker took %q", k)
	}
	s.sigs <- syscall.SIGTERM
	if err := <-cut; err == nil {
		t.Error("the held request was answered, not cut")
	}
	if c := s.wait(t); c != daemon.ExitOK {
		t.Errorf("exit code %d, want %d", c, daemon.ExitOK)
	}
	warns := s.logs.FilterLevelExact(zapcore.WarnLevel)
	if warns.FilterMessageSnippet("cut 1 requests in flight").Len() != 1 {
		t.Errorf("no warning counting the request cut; warnings: %v", warns.All())
	}
}

// Request handlers run under the pprof label of the child that owns the
// server, so a stuck handler is reported as daemon/api.
func TestHandlersUnderTheAPIsLabel(t *testing.T) {
	s := startDaemon(t, context.Background(), 10*time.Second, 0)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.app.Addr().String()+"/jobs?key=held&value=1&wait", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-s.working // the handler now waits for the job
	g := supervisor.GoroutinesUnder("daemon")
	cancel()
	<-done
	if !strings.Contains(g["daemon/api"].Stacks, "postJob") {
		t.Errorf("the handler is not under daemon/api; by path: %v", g)
	}
	s.sigs <- syscall.SIGTERM
	if c := s.wait(t); c != daemon.ExitOK {
		t.Errorf("exit code %d", c)
	}
}

// With a shutdown delay, the API still answers after the signal while
// /readyz says 503; the end of the delay (here the context) stops the tree.
func TestShutdownDelayKeepsServing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startDaemon(t, ctx, 2*time.Hour, time.Hour)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + s.app.Addr().String()
	ready := health.Readyz(s.root)
	s.sigs <- syscall.SIGTERM
	select {
	case <-s.delay:
	case <-time.After(testTimeout):
		t.Fatal("no shutdown delay")
	}
	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the delay = %d", w.Code)
	}
	if status, body := do(t, client, http.MethodGet, base+"/", ""); status != 200 || body != "arbor example daemon" {
		t.Errorf("GET / during the delay = %d %q", status, body)
	}
	cancel()
	if c := s.wait(t); c != daemon.ExitOK {
		t.Errorf("exit code %d", c)
	}
}

// POST /debug/crash makes a child panic; the tree restarts it, and the
// metrics count the restart.
func TestCrashOnPurpose(t *testing.T) {
	s := startDaemon(t, context.Background(), 10*time.Second, 0)
	metrics := prom.NewCollector()
	metrics.Watch(s.root)
	admin := adminHandler(s.root, s.app, metrics)

	w := httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/debug/crash?child=nope", nil))
	if w.Code != http.StatusBadRequest {
		t.Errorf("crash of an unknown child = %d", w.Code)
	}
	w = httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/debug/crash?child=store", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("crash = %d %s", w.Code, w.Body)
	}
	ev, err := s.rec.WaitFor(testCtx(t), supervisor.ChildExited, "store")
	if err != nil {
		t.Fatal(err)
	}
	if !child.IsPanic(ev.Err) || !ev.Restarted {
		t.Errorf("store exit %v (restarted %v), want a panic that is restarted", ev.Err, ev.Restarted)
	}
	if _, err := s.rec.WaitForNth(testCtx(t), supervisor.ChildStarted, "api", 2); err != nil {
		t.Fatal(err) // rest_for_one: the API after the store restarts too
	}
	w = httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "arbor_child_up") {
		t.Errorf("GET /metrics = %d\n%.500s", w.Code, w.Body)
	}
	s.sigs <- syscall.SIGTERM
	if c := s.wait(t); c != daemon.ExitOK {
		t.Errorf("exit code %d", c)
	}
}
