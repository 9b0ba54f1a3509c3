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
	"go.uber.org/zap/zaptest"

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
// queued job at the moment of SIGTERM both complete, and the four phases
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
	ph.waitFor(t, Phase{N: 1, Name: "stop accepting", Done: true})

	// Shutdown has begun: not ready, and no new connection is accepted.
	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "[-]shutdown failed") {
		t.Errorf("/readyz during shutdown = %d\n%s", w.Code, w.Body)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("a new connection was accepted after phase 1")
	}
	// Phase 2 waits for the request in flight.
	select {
	case r := <-inFlight:
		t.Fatalf("the in-flight request ended before its job: %+v", r)
	default:
	}

	close(gate)
	if r := <-inFlight; r.status != 200 || r.body != "done" {
		t.Errorf("in-flight request = %+v, want 200 done", r)
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
		"1 stop accepting begin", "1 stop accepting done",
		"2 finish in-flight requests begin", "2 finish in-flight requests done",
		"3 drain the worker queue begin", "3 drain the worker queue done",
		"4 close the resource begin", "4 close the resource done",
	}
	if got := ph.get(); !slices.Equal(got, want) {
		t.Errorf("phases\n%q\nwant\n%q", got, want)
	}
	// The queued job was drained in phase 3, before the store closed.
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
	accept, inFlight, drain, closing := budgets(25 * time.Second)
	if accept+inFlight+drain+closing > 25*time.Second {
		t.Errorf("slices %v %v %v %v exceed the total", accept, inFlight, drain, closing)
	}
	root, _, err := newTree(Config{Addr: "127.0.0.1:0", Workers: 1, QueueSize: 1, Budget: 25 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Duration{"listener": accept, "requests": inFlight, "workers": drain, "store": closing} {
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
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-workers=0"}, {"-shutdown-budget=-1s"}} {
		var stderr bytes.Buffer
		if code := run(testCtx(t), args, &stderr); code != exitUsage {
			t.Errorf("%q: exit code %d, want %d", args, code, exitUsage)
		}
	}
	if code := run(testCtx(t), []string{"-h"}, io.Discard); code != 0 {
		t.Errorf("-h: exit code %d", code)
	}
}
