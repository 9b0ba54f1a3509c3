package health_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// probe sends GET target to h and returns the status and body.
func probe(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", target, ct)
	}
	return w.Code, w.Body.String()
}

func expect(t *testing.T, h http.Handler, target string, wantCode int, wantBody string) {
	t.Helper()
	code, body := probe(t, h, target)
	if code != wantCode || body != wantBody {
		t.Errorf("GET %s = %d\n%s\nwant %d\n%s", target, code, body, wantCode, wantBody)
	}
}

// idle reports ready and runs until stopped.
func idle(id string) child.Spec {
	return child.Spec{ID: id, AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})}
}

func newTree(t *testing.T, opts ...supervisor.Option) (*supervisor.Supervisor, *supervisor.Supervisor) {
	t.Helper()
	db, err := supervisor.New("db", []child.Spec{idle("pool"), idle("cache")})
	if err != nil {
		t.Fatal(err)
	}
	root, err := supervisor.New("root", []child.Spec{
		{ID: "db", Service: db, Kind: child.KindSupervisor},
		idle("api"),
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return root, db
}

// await returns what ch delivers, and fails the test if nothing comes within
// testTimeout, so that a bug fails the test instead of hanging the suite.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// releaser returns a function that closes ch, once however often it is
// called; it is also called at cleanup, so that a child blocked on ch returns
// even if the test failed before releasing it.
func releaser(t *testing.T, ch chan struct{}) func() {
	t.Helper()
	release := sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return release
}

// stopAtCleanup stops sup at cleanup, within testTimeout, whatever state the
// test left it in.
func stopAtCleanup(t *testing.T, sup *supervisor.Supervisor) {
	t.Helper()
	t.Cleanup(func() { _ = sup.Stop(testCtx(t)) })
}

func start(t *testing.T, sup *supervisor.Supervisor) {
	t.Helper()
	if err := sup.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sup.Stop(testCtx(t)); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func TestRunningTree(t *testing.T) {
	root, _ := newTree(t)
	start(t, root)
	live, ready := health.Livez(root), health.Readyz(root)

	expect(t, live, "/livez", 200, "ok")
	expect(t, ready, "/readyz", 200, "ok")
	expect(t, live, "/livez?verbose", 200, `[+]ping ok
[+]root ok
[+]root/db ok
livez check passed
`)
	expect(t, ready, "/readyz?verbose", 200, `[+]ping ok
[+]shutdown ok
[+]root ok
[+]root/db ok
[+]root/db/pool ok
[+]root/db/cache ok
[+]root/api ok
readyz check passed
`)
	expect(t, ready, "/readyz?verbose&exclude=root/api&exclude=nope", 200, `[+]ping ok
[+]shutdown ok
[+]root ok
[+]root/db ok
[+]root/db/pool ok
[+]root/db/cache ok
[+]root/api excluded: ok
warn: some health checks cannot be excluded: no matches for "nope"
readyz check passed
`)
}

func TestNotRunning(t *testing.T) {
	root, _ := newTree(t)
	want := "[-]ping failed: supervisor: not running\n"
	expect(t, health.Livez(root), "/livez", 503, want+"livez check failed\n")
	expect(t, health.Readyz(root), "/readyz", 503, want+"readyz check failed\n")
}

// While the tree starts, /readyz names the child being awaited and the ones
// after it; /livez is fine.
func TestStarting(t *testing.T) {
	entered, proceed := make(chan struct{}), make(chan struct{})
	root, err := supervisor.New("root", []child.Spec{
		idle("db"),
		{ID: "slow", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			close(entered)
			<-proceed // released at the latest at cleanup
			child.Ready(ctx)
			<-ctx.Done()
			return nil
		})},
		idle("api"),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, root)
	release := releaser(t, proceed) // at cleanup, before the Stop
	started := make(chan error, 1)
	// Ends when Start returns: once slow is released, or testTimeout.
	go func() { started <- root.Start(testCtx(t)) }()
	await(t, entered, "the slow child to be entered")
	live, ready := health.Livez(root), health.Readyz(root)
	expect(t, live, "/livez", 200, "ok")
	expect(t, ready, "/readyz", 503, `[+]ping ok
[+]shutdown ok
[-]root failed: starting
[+]root/db ok
[-]root/slow failed: starting
[-]root/api failed: not started yet
readyz check failed
`)
	release()
	if err := await(t, started, "Start to return"); err != nil {
		t.Fatal(err)
	}
	expect(t, ready, "/readyz", 200, "ok")
}

// A child that crashes and waits to be restarted keeps /livez at 200, and
// /readyz too unless WithRestartingUnready.
func TestRestarting(t *testing.T) {
	crash, restarting, proceed := make(chan error), make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	rec := supervisortest.NewRecorder()
	root, err := supervisor.New("root", []child.Spec{
		{ID: "flaky", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			if n.Add(1) == 2 {
				// The restart waits here, before it is ready, until released
				// (at the latest at cleanup).
				close(restarting)
				<-proceed
			}
			child.Ready(ctx)
			select {
			case err := <-crash:
				return err
			case <-ctx.Done():
				return nil
			}
		})},
	}, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	start(t, root)
	release := releaser(t, proceed) // at cleanup, before the Stop
	select {
	case crash <- errors.New("lost the connection"):
	case <-time.After(testTimeout):
		t.Fatal("flaky did not take the crash")
	}
	await(t, restarting, "flaky's restart")

	expect(t, health.Livez(root), "/livez", 200, "ok")
	expect(t, health.Readyz(root), "/readyz", 200, "ok")
	strict := health.Readyz(root, health.WithRestartingUnready())
	expect(t, strict, "/readyz", 503, `[+]ping ok
[+]shutdown ok
[+]root ok
[-]root/flaky failed: restarting
readyz check failed
`)
	release()
	if _, err := rec.WaitForNth(testCtx(t), supervisor.ChildStarted, "flaky", 2); err != nil {
		t.Fatal(err)
	}
	expect(t, strict, "/readyz", 200, "ok")
}

// /readyz fails as soon as the shutdown begins, while /livez stays 200 until
// the tree has stopped.
func TestShuttingDown(t *testing.T) {
	stopping, release := make(chan struct{}), make(chan struct{})
	root, err := supervisor.New("root", []child.Spec{
		idle("db"),
		{ID: "slow-stopper", AwaitReady: true, Shutdown: time.Hour, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			close(stopping)
			<-release // released at the latest at cleanup
			return nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, root)
	free := releaser(t, release) // at cleanup, before the Stop
	stopped := make(chan error, 1)
	// Ends when Stop returns: once slow-stopper is released, or testTimeout.
	go func() { stopped <- root.Stop(testCtx(t)) }()
	await(t, stopping, "slow-stopper to be asked to stop")

	live, ready := health.Livez(root), health.Readyz(root)
	expect(t, live, "/livez", 200, "ok")
	code, body := probe(t, ready, "/readyz")
	if code != 503 || !strings.Contains(body, "[-]shutdown failed: shutting down\n") || !strings.HasSuffix(body, "readyz check failed\n") {
		t.Errorf("GET /readyz during shutdown = %d\n%s", code, body)
	}
	free()
	if err := await(t, stopped, "Stop to return"); err != nil {
		t.Fatal(err)
	}
	expect(t, live, "/livez", 503, "[-]ping failed: supervisor: not running\nlivez check failed\n")
}

func TestRegister(t *testing.T) {
	root, _ := newTree(t)
	start(t, root)
	mux := http.NewServeMux()
	health.Register(mux, root, health.WithTimeout(5*time.Second))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/livez", 200},
		{http.MethodHead, "/livez", 200},
		{http.MethodGet, "/readyz", 200},
		{http.MethodGet, "/readyz?verbose", 200},
		{http.MethodPost, "/readyz", http.StatusMethodNotAllowed},
		{http.MethodGet, "/healthz", http.StatusNotFound},
	} {
		req, err := http.NewRequestWithContext(testCtx(t), tc.method, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == 200 && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", tc.method, tc.path, resp.Header.Get("Cache-Control"))
		}
	}
	srv.Client().CloseIdleConnections()
}

// Unready turns /readyz to 503 while the tree still serves; the marks nest,
// and undoing each one once makes the tree ready again.
func TestUnready(t *testing.T) {
	root, _ := newTree(t)
	start(t, root)
	other, _ := newTree(t)
	start(t, other)
	ready := health.Readyz(root)
	expect(t, ready, "/readyz", 200, "ok")

	undo1 := health.Unready(root)
	undo2 := health.Unready(root)
	code, body := probe(t, ready, "/readyz")
	if code != 503 || !strings.Contains(body, "[-]shutdown failed: shutting down\n") || !strings.Contains(body, "[+]root/db/pool ok\n") {
		t.Errorf("GET /readyz once marked unready = %d\n%s", code, body)
	}
	expect(t, health.Readyz(other), "/readyz", 200, "ok")
	expect(t, health.Livez(root), "/livez", 200, "ok")
	if info, err := root.Info(testCtx(t)); err != nil || info.Stopping {
		t.Errorf("the tree no longer runs: %+v %v", info, err)
	}

	undo1()
	undo1() // a second call does nothing
	if code, _ := probe(t, ready, "/readyz"); code != 503 {
		t.Errorf("GET /readyz with one mark left = %d", code)
	}
	undo2()
	expect(t, ready, "/readyz", 200, "ok")
	health.Unready(nil)() // harmless
}
