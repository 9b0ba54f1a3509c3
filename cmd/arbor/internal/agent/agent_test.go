package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const failsafe = 30 * time.Second

const treeAB = `version: 1
root:
  intensity: 5
  period: 1m
  children:
    - name: a
      command: /bin/sh
      args: ["-c", "echo hello a; echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
      shutdown: 2s
    - name: b
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
      shutdown: 2s
`

type fixture struct {
	t    *testing.T
	path string
	a    *Agent
	srv  *httptest.Server
}

// newFixture runs the tree in src and serves its control API.
func newFixture(t *testing.T, src string, opts ...Option) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tree.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := treefile.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := proc.NewReaper(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(f, path, r, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := a.Root().Start(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	srv := httptest.NewServer(a.Handler(stop))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), failsafe)
		defer cancel()
		if err := a.Root().Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		r.Close()
	})
	return &fixture{t: t, path: path, a: a, srv: srv}
}

// call makes a request and returns the status code and body.
func (f *fixture) call(method, path, body string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) pids() map[string]int {
	f.t.Helper()
	code, body := f.call("GET", "/v1/status", "")
	var rows []Row
	if code != 200 || json.Unmarshal([]byte(body), &rows) != nil {
		f.t.Fatalf("status: %d %s", code, body)
	}
	m := map[string]int{}
	for _, r := range rows {
		if r.PID != 0 {
			m[r.Path] = r.PID
		}
	}
	return m
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	f := newFixture(t, treeAB)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/v1/stop", ``, 400, "empty body"},
		{"POST", "/v1/stop", `{"pth": "root/a"}`, 400, `unknown field "pth"`},
		{"POST", "/v1/stop", `{"path": "root/a"} {}`, 400, "data after"},
		{"POST", "/v1/stop", `[1]`, 400, "cannot unmarshal"},
		{"POST", "/v1/stop", `{"path": "a"}`, 400, "not a child's path"},
		{"POST", "/v1/stop", `{"path": "root/zzz"}`, 404, "not found"},
		{"POST", "/v1/stop", `{"path": "root/x/y"}`, 404, `no supervisor at "root/x"`},
		{"POST", "/v1/signal", `{"path": "root/a", "signal": "SIGNOPE"}`, 400, "unknown signal"},
		{"POST", "/v1/signal", `{"path": "root/none", "signal": "HUP"}`, 404, "no process"},
		{"GET", "/v1/stop", ``, 405, "use POST"},
		{"GET", "/v1/nothing", ``, 404, "no endpoint"},
		{"GET", "/v1/logs?path=root/a&n=x", ``, 400, "not a count"},
		{"GET", "/v1/status?path=root/none", ``, 404, "no child"},
		{"POST", "/v1/start", `{"path": "root/a"}`, 409, "running"},
		{"POST", "/v1/stop", strings.Repeat(" ", MaxRequest+1), 400, "larger than"},
	} {
		code, body := f.call(tc.method, tc.path, tc.body)
		var e apiError
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("%s %s: body %q is not a JSON error", tc.method, tc.path, body)
		}
		if code != tc.code || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s %s %.40q = %d %s; want %d with %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}
}

func TestStopStartRestartSignalLogs(t *testing.T) {
	f := newFixture(t, treeAB)
	before := f.pids()
	if code, body := f.call("POST", "/v1/stop", `{"path": "root/a"}`); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	if _, ok := f.pids()["root/a"]; ok {
		t.Error("root/a still has a pid after stop")
	}
	if _, err := os.Stat("/proc/" + itoa(before["root/a"])); err == nil {
		t.Errorf("process %d still exists after stop", before["root/a"])
	}
	if code, body := f.call("POST", "/v1/start", `{"path": "root/a"}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, body := f.call("POST", "/v1/restart", `{"path": "root/b"}`); code != 200 {
		t.Fatalf("restart: %d %s", code, body)
	}
	after := f.pids()
	if after["root/a"] == 0 || after["root/b"] == 0 || after["root/b"] == before["root/b"] {
		t.Errorf("pids before %v, after %v", before, after)
	}
	if code, body := f.call("POST", "/v1/signal", `{"path": "root/b", "signal": "TERM"}`); code != 200 || !strings.Contains(body, "SIGTERM") {
		t.Errorf("signal: %d %s", code, body)
	}
	code, body := f.call("GET", "/v1/logs?path=root/a&n=1", "")
	var l proc.Line
	if code != 200 || json.Unmarshal([]byte(body), &l) != nil || l.Text != "hello a" || l.PID != after["root/a"] {
		t.Errorf("logs: %d %s", code, body)
	}
	if code, body := f.call("GET", "/v1/debug/stacks", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("stacks: %d %.100s", code, body)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestReload(t *testing.T) {
	f := newFixture(t, treeAB)
	before := f.pids()
	// b removed, c added, a unchanged.
	next := strings.Replace(treeAB, "    - name: b\n", "    - name: c\n", 1)
	if err := os.WriteFile(f.path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := f.call("POST", "/v1/reload", `{"dry_run": true}`)
	var plan Plan
	if code != 200 || json.Unmarshal([]byte(body), &plan) != nil || plan.Applied ||
		strings.Join(plan.Added, ",") != "root/c" || strings.Join(plan.Removed, ",") != "root/b" {
		t.Fatalf("dry run: %d %s", code, body)
	}
	if got := f.pids(); got["root/b"] != before["root/b"] || got["root/c"] != 0 {
		t.Fatalf("dry run changed the tree: %v", got)
	}
	code, body = f.call("POST", "/v1/reload", `{}`)
	if code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	after := f.pids()
	if after["root/a"] != before["root/a"] || after["root/b"] != 0 || after["root/c"] == 0 {
		t.Fatalf("after reload: %v (before %v)", after, before)
	}

	// A change of a's command restarts a only.
	changed := strings.Replace(next, "echo hello a", "echo hello again", 1)
	if err := os.WriteFile(f.path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := f.call("POST", "/v1/reload", `{}`); code != 200 || !strings.Contains(body, `"changed":["root/a"]`) {
		t.Fatalf("reload: %d %s", code, body)
	}
	again := f.pids()
	if again["root/a"] == after["root/a"] || again["root/c"] != after["root/c"] {
		t.Errorf("after change: %v (before %v)", again, after)
	}

	// A bad file is rejected with its position; nothing changes.
	if err := os.WriteFile(f.path, []byte(strings.Replace(changed, "intensity: 5", "intensity: five", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body = f.call("POST", "/v1/reload", `{}`)
	if code != 400 || !strings.Contains(body, "tree.yaml:3:14") || !strings.Contains(body, "want an integer") {
		t.Errorf("bad reload: %d %s", code, body)
	}
	if got := f.pids(); got["root/a"] != again["root/a"] || got["root/c"] != again["root/c"] || len(got) != 2 {
		t.Errorf("bad reload touched the tree: %v (before %v)", got, again)
	}
}

func TestControlSocketPermissionsAndPeers(t *testing.T) {
	dir, err := os.MkdirTemp("", "arbor-sock-") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "c.sock")
	ln, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := ListenControl(path); err == nil || !strings.Contains(err.Error(), "another arbor") {
		t.Errorf("second listen: %v", err)
	}

	// The same user is accepted; another is refused.
	accepted := make(chan net.Conn, 1)
	go func() { // ends when ln is closed
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if sc := <-accepted; sc == nil {
		t.Fatal("own connection refused")
	} else {
		sc.Close()
	}
	ln.Close()
	<-accepted

	other := &peerListener{uid: os.Geteuid() + 1}
	raw, err := net.Listen("unix", path+"2")
	if err != nil {
		t.Fatal(err)
	}
	other.Listener = raw
	go func() { // ends when raw is closed
		_, err := other.Accept()
		if err == nil {
			t.Error("connection from another user accepted")
		}
	}()
	c, err = net.Dial("unix", path+"2")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(failsafe))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("read from a refused connection = %d, %v; want EOF", n, err)
	}
	c.Close()
	raw.Close()
}

func TestAdminHandler(t *testing.T) {
	f := newFixture(t, treeAB)
	srv := httptest.NewServer(f.a.AdminHandler(false))
	defer srv.Close()
	for path, want := range map[string]string{"/livez": "ok", "/readyz": "ok", "/metrics": "arbor_tree_ready 1",
		"/debug/arbor/tree.json": `"path":"root/a"`} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s = %d %.200s", path, resp.StatusCode, b)
		}
	}
	resp, err := srv.Client().Get(srv.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("pprof served without --pprof: %d", resp.StatusCode)
	}
}

func TestDecodeRequest(t *testing.T) {
	req, err := DecodeRequest(strings.NewReader(`{"path": "root/a", "signal": "HUP", "dry_run": true}`))
	if err != nil || req != (Request{Path: "root/a", Signal: "HUP", DryRun: true}) {
		t.Errorf("DecodeRequest = %+v, %v", req, err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"path": "root/a"}`))
	f.Add([]byte(`{"path": "root/a", "signal": "TERM", "dry_run": false}`))
	f.Add([]byte(`{"path": 1}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(strings.NewReader(string(b)))
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("error %v does not match errBadRequest", err)
			}
			return
		}
		// A decoded request encodes back to JSON that decodes the same.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if req2, err := DecodeRequest(strings.NewReader(string(again))); err != nil || req2 != req {
			t.Fatalf("round trip: %+v, %v", req2, err)
		}
	})
}

func TestLogsFollow(t *testing.T) {
	f := newFixture(t, treeAB)
	resp, err := f.srv.Client().Get(f.srv.URL + "/v1/logs?path=root/a&n=0&follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code, body := f.call("POST", "/v1/restart", `{"path": "root/a"}`); code != 200 {
		t.Fatalf("restart: %d %s", code, body)
	}
	var l proc.Line
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Text != "hello a" || l.PID != f.pids()["root/a"] {
		t.Errorf("followed line = %+v, %v", l, err)
	}
}

const treeNested = `version: 1
root:
  intensity: 5
  period: 1m
  children:
    - name: a
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
    - name: group
      kind: supervisor
      strategy: one_for_one
      children:
        - name: x
          command: /bin/sh
          args: ["-c", "echo >&3; exec sleep 1000"]
          readiness: {notify: fd:3}
        - name: y
          command: /bin/sh
          args: ["-c", "echo >&3; exec sleep 1000"]
          readiness: {notify: fd:3}
`

func TestReloadNested(t *testing.T) {
	f := newFixture(t, treeNested)
	before := f.pids()
	// The nested supervisor's strategy changes in place, z is added to it,
	// and nothing that was running is restarted.
	next := strings.Replace(treeNested, "strategy: one_for_one", "strategy: rest_for_one", 1) + `        - name: z
          command: /bin/sh
          args: ["-c", "echo >&3; exec sleep 1000"]
          readiness: {notify: fd:3}
`
	if err := os.WriteFile(f.path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := f.call("POST", "/v1/reload", `{}`)
	var plan Plan
	if code != 200 || json.Unmarshal([]byte(body), &plan) != nil || strings.Join(plan.Added, ",") != "root/group/z" ||
		strings.Join(plan.Changed, ",") != "root/group" {
		t.Fatalf("reload: %d %s", code, body)
	}
	after := f.pids()
	for _, p := range []string{"root/a", "root/group/x", "root/group/y"} {
		if after[p] != before[p] {
			t.Errorf("%s restarted by the reload: %d → %d", p, before[p], after[p])
		}
	}
	if after["root/group/z"] == 0 {
		t.Errorf("root/group/z not started: %v", after)
	}
	// The new strategy is in force.
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	f.a.mu.Lock()
	group := f.a.sups["root/group"]
	f.a.mu.Unlock()
	info, err := group.Info(ctx)
	if err != nil || info.Strategy.String() != "rest_for_one" {
		t.Errorf("strategy = %v, %v", info.Strategy, err)
	}
	// The control verbs reach the new child.
	if code, body := f.call("POST", "/v1/stop", `{"path": "root/group/z"}`); code != 200 {
		t.Errorf("stop z: %d %s", code, body)
	}
}
