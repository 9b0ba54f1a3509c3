package treeview_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/internal/runner"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
	"github.com/arborgo/arbor/treeview"
)

const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// idle reports ready and runs until stopped.
func idle(id string) child.Spec {
	return child.Spec{ID: id, AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})}
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

func TestNewDocument(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	crash := errors.New("connection reset")
	pe := panicErr("nil map\nwrite")
	tree := &supervisor.Tree{
		Info: supervisor.Info{
			Path: "root", Strategy: strategy.RestForOne,
			Intensity: escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second},
			InWindow:  2, Ready: true,
			Children: []supervisor.ChildInfo{
				{ID: "db", Path: "root/db", Kind: child.KindSupervisor, State: supervisor.StateRunning, Started: t0, Restarts: 1, LastExit: crash, LastExitAt: t0.Add(-time.Second)},
				{ID: "web", Path: "root/web", Kind: child.KindWorker, State: supervisor.StateRestarting, Restarts: 2, LastExit: pe, LastExitAt: t0},
				{ID: "job", Path: "root/job", Kind: child.KindWorker, Restart: child.Transient, State: supervisor.StateStopped, LastExitAt: t0},
				{ID: "bye", Path: "root/bye", Kind: child.KindWorker, Restart: child.Temporary, State: supervisor.StateStopped, LastExit: child.Shutdownf("drained"), LastExitAt: t0},
				{ID: "slow", Path: "root/slow", Kind: child.KindWorker, State: supervisor.StateStopped, Started: t0},
				{ID: "old", Path: "root/old", Kind: child.KindWorker, State: supervisor.StateStopped, LastExit: context.Canceled, LastExitAt: t0, LastExitRequested: true},
			},
		},
		Subtrees: map[string]*supervisor.Tree{
			"db": {Info: supervisor.Info{Path: "root/db", Intensity: escalation.Default, Stopping: true, Ready: true,
				Children: []supervisor.ChildInfo{{ID: "pool", Path: "root/db/pool", Kind: child.KindWorker, State: supervisor.StateRunning, Started: t0, Abandoned: 1}}}},
		},
	}
	doc := documentJSON(t, tree, t0)
	want := `{"time":"2026-11-27T05:00:00Z","root":{"name":"root","path":"root","kind":"supervisor","state":"running","ready":true,"restarts":0,` +
		`"strategy":"rest_for_one","intensity":{"max_restarts":3,"period":"10s","restarts_in_window":2},"children":[` +
		`{"name":"db","path":"root/db","kind":"supervisor","restart":"permanent","state":"stopping","ready":true,"restarts":1,"started_at":"2026-11-27T05:00:00Z",` +
		`"last_exit":{"at":"2026-11-27T04:59:59Z","kind":"error","reason":"connection reset"},` +
		`"strategy":"one_for_one","intensity":{"max_restarts":1,"period":"5s","restarts_in_window":0},"children":[` +
		`{"name":"pool","path":"root/db/pool","kind":"worker","restart":"permanent","state":"running","ready":true,"restarts":0,"abandoned":1,"started_at":"2026-11-27T05:00:00Z"}]},` +
		`{"name":"web","path":"root/web","kind":"worker","restart":"permanent","state":"restarting","ready":false,"restarts":2,"last_exit":{"at":"2026-11-27T05:00:00Z","kind":"panic","reason":"panic: nil map"}},` +
		`{"name":"job","path":"root/job","kind":"worker","restart":"transient","state":"stopped","ready":false,"restarts":0,"last_exit":{"at":"2026-11-27T05:00:00Z","kind":"normal"}},` +
		`{"name":"bye","path":"root/bye","kind":"worker","restart":"temporary","state":"stopped","ready":false,"restarts":0,"last_exit":{"at":"2026-11-27T05:00:00Z","kind":"shutdown","reason":"child: shutdown: drained"}},` +
		`{"name":"slow","path":"root/slow","kind":"worker","restart":"permanent","state":"starting","ready":false,"restarts":0,"started_at":"2026-11-27T05:00:00Z"},` +
		`{"name":"old","path":"root/old","kind":"worker","restart":"permanent","state":"stopped","ready":false,"restarts":0,"last_exit":{"at":"2026-11-27T05:00:00Z","kind":"error","reason":"context canceled","requested":true}}]}}`
	if doc != want {
		t.Errorf("document\n%s\nwant\n%s", doc, want)
	}
}

func documentJSON(t *testing.T, tree *supervisor.Tree, now time.Time) string {
	t.Helper()
	b, err := json.Marshal(treeview.NewDocument(tree, now))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandler(t *testing.T) {
	clock := supervisortest.NewClock(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC))
	root, err := supervisor.New("root", []child.Spec{idle("api")})
	if err != nil {
		t.Fatal(err)
	}
	h := treeview.Handler(root, treeview.WithClock(clock), treeview.WithTimeout(5*time.Second))
	get := func(method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w
	}

	w := get(http.MethodGet, "/tree.json")
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != `{"error":"supervisor: not running"}`+"\n" {
		t.Errorf("tree.json before start = %d %s", w.Code, w.Body)
	}
	start(t, root)

	w = get(http.MethodGet, "/tree.json")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("tree.json = %d %v", w.Code, w.Header())
	}
	var doc treeview.Document
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Time.Equal(clock.Now()) || doc.Root.Path != "root" || len(doc.Root.Children) != 1 || doc.Root.Children[0].State != "running" {
		t.Errorf("document %+v", doc)
	}

	w = get(http.MethodGet, "/")
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %v", w.Code, w.Header())
	}
	for _, want := range []string{"<title>arbor: root</title>", `fetch("tree.json"`, `"data-path"`, `"data-restarts"`, `"data-state"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, " src=") {
		t.Errorf("page refers to external assets:\n%s", body)
	}
	// The policy allows exactly the inline script and style the page has.
	csp := w.Header().Get("Content-Security-Policy")
	script := body[strings.Index(body, "<script>")+len("<script>") : strings.Index(body, "</script>")]
	sum := sha256.Sum256([]byte(script))
	if !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not allow the page's script", csp)
	}

	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{http.MethodHead, "/", 200},
		{http.MethodGet, "/sub/tree.json", 200},
		{http.MethodGet, "/favicon.ico", 404},
		{http.MethodPost, "/tree.json", 405},
	} {
		if w := get(tc.method, tc.target); w.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, w.Code, tc.want)
		}
	}
}

// While the tree stops, tree.json carries the shutdown (with the deadline
// daemon.Run announced and the time left) and marks the child the shutdown
// waits for, which its supervisor already lists as stopped.
func TestHandlerDuringShutdown(t *testing.T) {
	stopping, release := make(chan struct{}), make(chan struct{})
	root, err := supervisor.New("root", []child.Spec{
		idle("first"),
		{ID: "stuck", AwaitReady: true, Shutdown: time.Hour, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			close(stopping)
			<-release
			return nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := treeview.Handler(root, treeview.WithTimeout(5*time.Second))
	get := func() *treeview.Document {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/tree.json", nil))
		var doc treeview.Document
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("tree.json = %d %s: %v", w.Code, w.Body, err)
		}
		return &doc
	}
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if doc := get(); doc.Shutdown != nil {
		t.Errorf("a shutdown before any: %+v", doc.Shutdown)
	}

	deadline := time.Now().Add(time.Hour)
	undo := health.AnnounceShutdown(root, health.Announcement{Began: time.Now(), Deadline: deadline})
	defer undo()
	if doc := get(); doc.Shutdown == nil || doc.Shutdown.Stopping || doc.Shutdown.Left == "" {
		t.Errorf("announced shutdown (a delay: not stopping yet) = %+v", doc.Shutdown)
	}
	stopped := make(chan error, 1)
	// Ends once stuck is released below.
	go func() { stopped <- root.Stop(testCtx(t)) }()
	<-stopping

	doc := get()
	if sd := doc.Shutdown; sd == nil || !sd.Stopping || sd.Deadline == nil || !sd.Deadline.Equal(deadline) || sd.Left == "" {
		t.Errorf("shutdown = %+v, want stopping with deadline %v", sd, deadline)
	}
	var stuck *treeview.Node
	for _, c := range doc.Root.Children {
		if c.Name == "stuck" {
			stuck = c
		}
	}
	if stuck == nil || !stuck.Waiting || stuck.State != "stopping" || stuck.Goroutines < 1 {
		t.Errorf("stuck = %+v, want waited for, stopping, with its goroutines", stuck)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// panicErr is the *child.PanicError a supervisor reports for a panic with
// value v.
func panicErr(v any) *child.PanicError { return runner.NewPanic(v, 0).(*child.PanicError) }
