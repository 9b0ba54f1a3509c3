package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	runpprof "runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/treeview"
)

// MaxRequest is the largest control request body accepted.
const MaxRequest = 64 << 10

// Request is the body of a control API POST.
type Request struct {
	Path   string `json:"path,omitempty"`   // a child's path, such as "root/db"
	Signal string `json:"signal,omitempty"` // for /v1/signal, such as "HUP"
	DryRun bool   `json:"dry_run,omitempty"`
}

// errBadRequest matches every request the API refuses as malformed.
var errBadRequest = errors.New("bad request")

// DecodeRequest reads one JSON Request. Unknown fields, trailing data and
// bodies over MaxRequest are errors.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	body, err := io.ReadAll(io.LimitReader(r, MaxRequest+1))
	if err != nil {
		return req, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if len(body) > MaxRequest {
		return req, fmt.Errorf("%w: body larger than %d bytes", errBadRequest, MaxRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, fmt.Errorf("%w: empty body: want a JSON object such as {\"path\": \"root/db\"}", errBadRequest)
		}
		return req, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, fmt.Errorf("%w: data after the JSON object", errBadRequest)
	}
	return req, nil
}

// ProcessInfo is what the API adds to a tree node for a process.
type ProcessInfo struct {
	PID    int    `json:"pid,omitempty"`
	Status string `json:"status,omitempty"` // the last STATUS= of a notify: systemd process
}

// TreeResponse is GET /v1/tree.
type TreeResponse struct {
	Node      string                 `json:"node"`
	StartedAt time.Time              `json:"started_at"`
	Tree      *treeview.Document     `json:"tree"`
	Processes map[string]ProcessInfo `json:"processes"`
}

// Row is one line of GET /v1/status.
type Row struct {
	Path      string         `json:"path"`
	Kind      string         `json:"kind"`
	Restart   string         `json:"restart,omitempty"`
	State     string         `json:"state"`
	Ready     bool           `json:"ready"`
	PID       int            `json:"pid,omitempty"`
	StartedAt *time.Time     `json:"started_at,omitempty"`
	Restarts  int            `json:"restarts"`
	LastExit  *treeview.Exit `json:"last_exit,omitempty"`
}

type apiError struct {
	Error string `json:"error"`
}

// Handler returns the control API, served on the unix socket. Streams
// (logs -f) end when stop is closed.
func (a *Agent) Handler(stop <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tree", a.handleTree)
	mux.HandleFunc("GET /v1/status", a.handleStatus)
	mux.HandleFunc("POST /v1/start", a.control(a.start))
	mux.HandleFunc("POST /v1/stop", a.control(a.stop))
	mux.HandleFunc("POST /v1/restart", a.control(a.restart))
	mux.HandleFunc("POST /v1/signal", a.control(a.signal))
	mux.HandleFunc("POST /v1/reload", a.handleReload)
	mux.HandleFunc("GET /v1/names", a.handleNames)
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) { a.handleLogs(w, r, stop) })
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) { a.handleEvents(w, r, stop) })
	mux.HandleFunc("GET /v1/debug/stacks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = runpprof.Lookup("goroutine").WriteTo(w, 2)
	})
	methods := map[string]string{"/v1/tree": "GET", "/v1/status": "GET", "/v1/start": "POST", "/v1/stop": "POST",
		"/v1/restart": "POST", "/v1/signal": "POST", "/v1/reload": "POST", "/v1/names": "GET", "/v1/logs": "GET", "/v1/events": "GET", "/v1/debug/stacks": "GET"}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := methods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: use %s", r.Method, r.URL.Path, m))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, apiError{Error: err.Error()})
}

func statusOf(err error) int {
	var tf treefile.Errors
	switch {
	case errors.Is(err, errBadRequest), errors.As(err, &tf):
		return http.StatusBadRequest
	case errors.Is(err, supervisor.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, supervisor.ErrRunning), errors.Is(err, supervisor.ErrRestarting),
		errors.Is(err, supervisor.ErrAlreadyStarted), errors.Is(err, supervisor.ErrStopping),
		errors.Is(err, supervisor.ErrNotRunning), errors.Is(err, proc.ErrNotRunning):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (a *Agent) snapshot(ctx context.Context) (*TreeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t, err := a.root.Tree(ctx)
	if err != nil {
		return nil, err
	}
	node := a.File().NodeName()
	resp := &TreeResponse{Node: node, StartedAt: a.started, Tree: treeview.NewDocument(t, time.Now()),
		Processes: map[string]ProcessInfo{}}
	a.mu.Lock()
	for path, p := range a.procs {
		if pid := p.PID(); pid != 0 {
			resp.Processes[path] = ProcessInfo{PID: pid, Status: p.Status()}
		}
	}
	a.mu.Unlock()
	return resp, nil
}

// Summary describes the tree in one line, such as "5 processes: 4 running,
// 1 restarting", for systemd's STATUS=.
func (a *Agent) Summary(ctx context.Context) string {
	resp, err := a.snapshot(ctx)
	if err != nil {
		return "tree not answering: " + err.Error()
	}
	counts := map[string]int{}
	total := 0
	var walk func(n *treeview.Node)
	walk = func(n *treeview.Node) {
		if n.Kind == "worker" {
			counts[n.State]++
			total++
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(resp.Tree.Root)
	parts := []string{}
	for _, st := range []string{"running", "starting", "restarting", "stopping", "stopped"} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	return fmt.Sprintf("%d processes: %s", total, strings.Join(parts, ", "))
}

func (a *Agent) handleTree(w http.ResponseWriter, r *http.Request) {
	resp, err := a.snapshot(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *Agent) handleStatus(w http.ResponseWriter, r *http.Request) {
	resp, err := a.snapshot(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	prefix := r.URL.Query().Get("path")
	rows := []Row{}
	var walk func(n *treeview.Node)
	walk = func(n *treeview.Node) {
		if prefix == "" || n.Path == prefix || strings.HasPrefix(n.Path, prefix+"/") {
			rows = append(rows, Row{Path: n.Path, Kind: n.Kind, Restart: n.Restart, State: n.State, Ready: n.Ready,
				PID: resp.Processes[n.Path].PID, StartedAt: n.StartedAt, Restarts: n.Restarts, LastExit: n.LastExit})
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(resp.Tree.Root)
	if len(rows) == 0 {
		writeError(w, http.StatusNotFound, fmt.Errorf("no child at %q", prefix))
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// locate returns the supervisor holding the child at path, and its ID.
func (a *Agent) locate(path string) (*supervisor.Supervisor, string, error) {
	i := strings.LastIndexByte(path, '/')
	if path == "" || i <= 0 || i == len(path)-1 {
		return nil, "", fmt.Errorf("%w: %q is not a child's path (want root/name/...)", errBadRequest, path)
	}
	a.mu.Lock()
	sup := a.sups[path[:i]]
	a.mu.Unlock()
	if sup == nil {
		return nil, "", fmt.Errorf("%w: no supervisor at %q", supervisor.ErrNotFound, path[:i])
	}
	return sup, path[i+1:], nil
}

func (a *Agent) control(fn func(ctx context.Context, req Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := DecodeRequest(r.Body)
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		out, err := fn(r.Context(), req)
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

type done struct {
	Path   string `json:"path"`
	Action string `json:"action"`
}

func (a *Agent) start(ctx context.Context, req Request) (any, error) {
	sup, id, err := a.locate(req.Path)
	if err != nil {
		return nil, err
	}
	if err := sup.RestartChild(ctx, id); err != nil {
		return nil, err
	}
	return done{req.Path, "started"}, nil
}

func (a *Agent) stop(ctx context.Context, req Request) (any, error) {
	sup, id, err := a.locate(req.Path)
	if err != nil {
		return nil, err
	}
	if err := sup.TerminateChild(ctx, id); err != nil {
		return nil, err
	}
	return done{req.Path, "stopped"}, nil
}

// restart stops the child and starts it again; a child its supervisor could
// not start (a failed start keeps it stopped) is started afresh.
func (a *Agent) restart(ctx context.Context, req Request) (any, error) {
	sup, id, err := a.locate(req.Path)
	if err != nil {
		return nil, err
	}
	if err := sup.TerminateChild(ctx, id); err != nil {
		return nil, err
	}
	if err := sup.RestartChild(ctx, id); err != nil {
		return nil, err
	}
	return done{req.Path, "restarted"}, nil
}

func (a *Agent) signal(_ context.Context, req Request) (any, error) {
	sig, err := proc.ParseSignal(req.Signal)
	if err != nil {
		return nil, fmt.Errorf("%w: signal: %v", errBadRequest, err)
	}
	a.mu.Lock()
	p := a.procs[req.Path]
	a.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("%w: no process at %q", supervisor.ErrNotFound, req.Path)
	}
	if err := p.Signal(sig); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Path, err)
	}
	return done{req.Path, "sent " + proc.SignalName(sig)}, nil
}

func (a *Agent) handleReload(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeRequest(r.Body)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	plan, err := a.Reload(r.Context(), req.DryRun)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	q := r.URL.Query()
	path := q.Get("path")
	a.mu.Lock()
	p := a.procs[path]
	a.mu.Unlock()
	if p == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no process at %q", path))
		return
	}
	n := 100
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("n: %q is not a count of lines", s))
			return
		}
		n = v
	}
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var seq uint64
	if n == 0 { // no history: start after the last line kept
		if last, _ := p.Logs().Since(0, 1); len(last) == 1 {
			seq = last[0].Seq
		}
	}
	for {
		lines, changed := p.Logs().Since(seq, n)
		n = 0 // the limit is for the history only
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return
			}
			seq = l.Seq
		}
		if !follow {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
	}
}

// handleEvents streams supervisor events, one JSON object per line, until
// the client goes away or the daemon stops.
func (a *Agent) handleEvents(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	events, cancel := a.events.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case ev := <-events:
			if err := enc.Encode(ev); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
	}
}

// AdminHandler serves the loopback listener: /livez, /readyz, /metrics,
// the tree page at /debug/arbor/, and /debug/pprof/ if withPprof.
func (a *Agent) AdminHandler(withPprof bool) http.Handler {
	mux := http.NewServeMux()
	health.Register(mux, a.root)
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.collector, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(a.root)))
	mux.Handle("GET /{$}", http.RedirectHandler("/debug/arbor/", http.StatusFound))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
