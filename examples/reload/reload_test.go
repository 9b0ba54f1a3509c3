package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/supervisor"
)

// testTimeout bounds every wait that would otherwise hang; a passing test
// never reaches it.
const testTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

const v0 = `{"children": [
  {"id": "hello", "message": "hello", "every": "1h"},
  {"id": "bonjour", "message": "bonjour", "every": "1h"}
]}`

// harness is a running tree whose reloader reads only on hup (no polling).
type harness struct {
	t       *testing.T
	path    string
	root    *supervisor.Supervisor
	app     *supervisor.Supervisor
	hup     chan os.Signal // unbuffered: a send returns once the reloader took it
	results chan Result
	ack     string
}

// start writes v0, builds the tree, with the reloader adjusted by set if not
// nil, starts it and returns once the reloader's first apply is reported.
func start(t *testing.T, set func(*Reloader)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, path: filepath.Join(dir, "app.json"), hup: make(chan os.Signal), results: make(chan Result, 16), ack: filepath.Join(dir, "ack")}
	h.write(v0)
	root, err := newTree(h.path, zaptest.NewLogger(t), func(r *Reloader) {
		r.Hangup, r.Ack = h.hup, h.ack
		r.Applied = func(res Result) { h.results <- res }
		if set != nil {
			set(r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	h.root = root
	h.app = root.Config().Children[0].Service.(*supervisor.Supervisor)
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := root.Stop(context.Background()); err != nil {
			t.Errorf("Stop = %v", err)
		}
	})
	if res := h.result(); res.Err != nil || !slices.Equal(res.Changes.Unchanged, []string{"hello", "bonjour"}) {
		t.Fatalf("first apply = %+v; want hello and bonjour unchanged", res)
	}
	return h
}

func (h *harness) write(content string) {
	h.t.Helper()
	// Write and rename, as editors and deploy tools do, so the reloader never
	// reads half a file.
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		h.t.Fatal(err)
	}
}

// reload sends SIGHUP and returns the result of the apply it causes.
func (h *harness) reload() Result {
	h.t.Helper()
	h.send()
	return h.result()
}

func (h *harness) send() {
	h.t.Helper()
	select {
	case h.hup <- syscall.SIGHUP:
	case <-time.After(testTimeout):
		h.t.Fatal("the reloader did not take SIGHUP")
	}
}

func (h *harness) result() Result {
	h.t.Helper()
	select {
	case res := <-h.results:
		return res
	case <-time.After(testTimeout):
		h.t.Fatal("no reload result")
		panic("unreachable")
	}
}

// running returns the app's children that run, by ID, with when their
// incarnation started.
func (h *harness) running() map[string]time.Time {
	h.t.Helper()
	infos, err := h.app.Children(testCtx(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]time.Time{}
	for _, ci := range infos {
		if ci.State == supervisor.StateRunning {
			m[ci.ID] = ci.Started
		}
	}
	return m
}

func message(t *testing.T, app *supervisor.Supervisor, id string) string {
	t.Helper()
	for _, sp := range app.Config().Children {
		if sp.ID == id {
			return sp.Service.(Greeter).Message
		}
	}
	t.Fatalf("no child %q", id)
	return ""
}

// A change is applied, and acknowledged only once the new tree runs:
// removed children stopped, changed ones restarted, added ones started,
// the others untouched.
func TestReloadAppliesAChange(t *testing.T) {
	h := start(t, nil)
	before := h.running()
	h.write(`{"strategy": "one_for_all", "children": [
	  {"id": "hello", "message": "hello", "every": "1h"},
	  {"id": "hola", "message": "hola", "every": "1h"},
	  {"id": "bonjour", "message": "salut", "every": "1h", "restart": "transient"}
	]}`)
	res := h.reload()
	if res.Err != nil {
		t.Fatalf("reload = %v", res.Err)
	}
	ch := res.Changes
	if !slices.Equal(ch.Added, []string{"hola"}) || !slices.Equal(ch.Changed, []string{"bonjour"}) ||
		!slices.Equal(ch.Unchanged, []string{"hello"}) || len(ch.Removed) != 0 || !ch.Flags {
		t.Fatalf("changes = %+v", ch)
	}
	// Acknowledged: so the new tree runs, now.
	after := h.running()
	if len(after) != 3 {
		t.Fatalf("running %v; want hello, hola and bonjour", after)
	}
	if !after["hello"].Equal(before["hello"]) {
		t.Fatal("hello was restarted; want it untouched")
	}
	if got := message(t, h.app, "bonjour"); got != "salut" {
		t.Fatalf("bonjour says %q; want salut", got)
	}
	ack, err := os.ReadFile(h.ack)
	if err != nil || strings.TrimSpace(string(ack)) != res.Hash {
		t.Fatalf("ack file = %q, %v; want %s", ack, err, res.Hash)
	}

	h.write(`{"children": [{"id": "hola", "message": "hola", "every": "1h"}]}`)
	if res := h.reload(); res.Err != nil || !slices.Equal(res.Changes.Removed, []string{"bonjour", "hello"}) {
		t.Fatalf("reload = %+v; want bonjour and hello removed", res)
	}
	if got := h.running(); len(got) != 1 || got["hola"].IsZero() {
		t.Fatalf("running %v; want hola alone", got)
	}
}

// A bad file is rejected whole and reported; the tree runs on untouched, and
// the acknowledgement still names the last file applied.
func TestReloadRejectsABadFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"not JSON", `{"children": [`, "unexpected EOF"},
		{"unknown field", `{"children": [{"id": "hello", "mesage": "hi", "every": "1h"}]}`, "unknown field"},
		{"bad duration", `{"children": [{"id": "hello", "message": "hi", "every": "soon"}]}`, "invalid duration"},
		{"no period", `{"children": [{"id": "hello", "message": "hi"}]}`, "every must be positive"},
		{"bad restart type", `{"children": [{"id": "hello", "message": "hi", "every": "1h", "restart": "sometimes"}]}`, "sometimes"},
		// Valid as a file; Apply rejects it whole.
		{"duplicate IDs", `{"children": [
		  {"id": "hello", "message": "hi", "every": "1h"},
		  {"id": "hello", "message": "again", "every": "1h"}]}`, "duplicate"},
		{"bad intensity", `{"max_restarts": -1, "children": [{"id": "hello", "message": "hi", "every": "1h"}]}`, "intensity"},
		{"bad budget", `{"children": [{"id": "hello", "message": "hi", "every": "1h", "shutdown": "-2s"}]}`, "Shutdown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, nil)
			before := h.running()
			ack, _ := os.ReadFile(h.ack)
			h.write(tc.file)
			res := h.reload()
			if !errors.Is(res.Err, errRejected) || !strings.Contains(res.Err.Error(), tc.want) {
				t.Fatalf("reload = %v; want rejected, mentioning %q", res.Err, tc.want)
			}
			after := h.running()
			if len(after) != 2 || !after["hello"].Equal(before["hello"]) || !after["bonjour"].Equal(before["bonjour"]) {
				t.Fatalf("running %v, before %v; want them untouched", after, before)
			}
			if got := message(t, h.app, "hello"); got != "hello" {
				t.Fatalf("hello says %q; want the old configuration", got)
			}
			if now, _ := os.ReadFile(h.ack); !bytes.Equal(now, ack) {
				t.Fatalf("ack moved from %q to %q", ack, now)
			}
			// The same bad file again on SIGHUP: rejected again, not skipped.
			if res := h.reload(); !errors.Is(res.Err, errRejected) {
				t.Fatalf("second reload = %v; want rejected", res.Err)
			}
		})
	}
}

// A second change waits for the first to be applied: while the first apply
// waits for a slow child's readiness, the reloader takes no trigger and parses
// nothing; then the changes are applied in order.
func TestSecondChangeWaitsForTheFirst(t *testing.T) {
	var (
		mu       sync.Mutex
		seq      []string
		gate     = make(chan struct{})
		starting = make(chan struct{}, 1)
		slow     = &slowStart{gate: gate, starting: starting}
	)
	note := func(s string) { mu.Lock(); seq = append(seq, s); mu.Unlock() }
	h := start(t, func(r *Reloader) {
		parse, applied := r.Parse, r.Applied
		r.Parse = func(data []byte) (supervisor.Config, error) {
			cfg, err := parse(data)
			for i, sp := range cfg.Children {
				if sp.ID == "slow" {
					cfg.Children[i].Service = slow // the same pointer each time: unchanged
				}
			}
			if i := strings.Index(string(data), `"v`); i >= 0 {
				note("parse " + string(data[i+1:i+3]))
			}
			return cfg, err
		}
		r.Applied = func(res Result) {
			if len(res.Changes.Added) > 0 {
				note("applied " + strings.Join(res.Changes.Added, ","))
			}
			applied(res)
		}
	})
	h.write(`{"children": [{"id": "slow", "message": "v1", "every": "1h"}]}`)
	h.send()
	select {
	case <-starting:
	case <-time.After(testTimeout):
		t.Fatal("the slow child did not start")
	}
	h.write(`{"children": [{"id": "slow", "message": "v2", "every": "1h"}, {"id": "next", "message": "next", "every": "1h"}]}`)
	second := make(chan struct{})
	// Ends once the reloader takes the second SIGHUP, after the first apply.
	go func() {
		defer close(second)
		h.hup <- syscall.SIGHUP
	}()
	select {
	case <-second:
		t.Fatal("the reloader took a second change while the first was being applied")
	case res := <-h.results:
		t.Fatalf("result %+v before the slow child was ready", res)
	default:
	}
	close(gate)
	first := h.result()
	<-second
	next := h.result()
	if first.Err != nil || next.Err != nil {
		t.Fatalf("results %v, %v", first.Err, next.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"parse v1", "applied slow", "parse v2", "applied next"}; !slices.Equal(seq, want) {
		t.Fatalf("sequence %q; want %q", seq, want)
	}
}

// slowStart reports ready once its gate is closed.
type slowStart struct {
	gate     chan struct{}
	starting chan struct{}
}

func (s *slowStart) Serve(ctx context.Context) error {
	select {
	case s.starting <- struct{}{}:
	default:
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil
	}
	child.Ready(ctx)
	<-ctx.Done()
	return nil
}

// New children that fail to start: the previous configuration is applied
// again and the file is reported as not applied.
func TestFailedStartRollsBack(t *testing.T) {
	h := start(t, func(r *Reloader) {
		parse := r.Parse
		r.Parse = func(data []byte) (supervisor.Config, error) {
			cfg, err := parse(data)
			for i, sp := range cfg.Children {
				if sp.ID == "broken" {
					cfg.Children[i].Service = child.Func(func(context.Context) error { return errors.New("no database") })
				}
			}
			return cfg, err
		}
	})
	h.write(`{"children": [
	  {"id": "hello", "message": "hi", "every": "1h"},
	  {"id": "broken", "message": "", "every": "1h"}
	]}`)
	res := h.reload()
	if !errors.Is(res.Err, errRolledBack) || !strings.Contains(res.Err.Error(), "no database") {
		t.Fatalf("reload = %v; want rolled back, naming the failure", res.Err)
	}
	if got := h.running(); len(got) != 2 || got["hello"].IsZero() || got["bonjour"].IsZero() {
		t.Fatalf("running %v; want hello and bonjour", got)
	}
	if got := message(t, h.app, "hello"); got != "hello" {
		t.Fatalf("hello says %q; want the previous configuration", got)
	}
}

// Polling picks a change up without a signal, and only once.
func TestPollingPicksUpAChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, []byte(v0), 0o644); err != nil {
		t.Fatal(err)
	}
	results := make(chan Result, 64)
	root, err := newTree(path, zap.NewNop(), func(r *Reloader) {
		r.Poll = 5 * time.Millisecond
		r.Applied = func(res Result) { results <- res }
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := root.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = root.Stop(context.Background()) }()
	<-results // the first apply, at start
	if err := os.WriteFile(path+".tmp", []byte(`{"children": [{"id": "hello", "message": "hi", "every": "1h"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-results:
		if res.Err != nil || !slices.Equal(res.Changes.Removed, []string{"bonjour"}) {
			t.Fatalf("reload = %+v; want bonjour removed", res)
		}
	case <-ctx.Done():
		t.Fatal("the change was not picked up")
	}
	if err := root.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if n := len(results); n != 0 {
		t.Fatalf("%d more results; want the change applied once", n)
	}
}

// lines is an io.Writer that hands each line written to a channel.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		select {
		case l <- s:
		default: // no one reads any more: never block the logger
		}
	}
	return len(p), nil
}

// The whole program: started, a change applied on SIGHUP, stopped by SIGTERM
// with exit code 0.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, []byte(v0), 0o644); err != nil {
		t.Fatal(err)
	}
	out := make(lines, 256)
	hup, term := make(chan os.Signal, 1), make(chan os.Signal, 1)
	code := make(chan int, 1)
	// Ends when run returns, after the SIGTERM below.
	go func() {
		code <- run(testCtx(t), []string{"-config", path, "-poll", "0", "-ack", filepath.Join(dir, "ack")}, out, hup, daemon.WithSignals(term))
	}()
	waitLine := func(what string) {
		t.Helper()
		for {
			select {
			case l := <-out:
				if strings.Contains(l, what) {
					return
				}
			case <-time.After(testTimeout):
				t.Fatalf("no line with %q", what)
			}
		}
	}
	waitLine("configuration applied")
	if err := os.WriteFile(path, []byte(`{"children": [{"id": "hello", "message": "hi", "every": "1h"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitLine("configuration applied")
	term <- syscall.SIGTERM
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Fatalf("exit code %d; want 0", c)
		}
	case <-time.After(testTimeout):
		t.Fatal("run did not return")
	}
	if c := run(testCtx(t), nil, &bytes.Buffer{}, nil); c != exitUsage {
		t.Fatalf("without -config: exit code %d; want %d", c, exitUsage)
	}
}
