package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// DefaultTimeout bounds each probe's view of the tree when [WithTimeout] is
// not given.
const DefaultTimeout = time.Second

// Option configures [Livez], [Readyz] and [Register].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	timeout           time.Duration
	restartingUnready bool
}

func newOptions(opts []Option) options {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithTimeout bounds how long a probe waits for the tree to answer; a tree
// that does not answer in time fails the probe. A zero or negative d means
// [DefaultTimeout]. The probe's own request context also bounds it. The last
// one wins.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d <= 0 {
			d = DefaultTimeout
		}
		o.timeout = d
	})
}

// WithRestartingUnready makes /readyz fail while a permanent child waits to
// be restarted (after a crash, during a backoff delay or a retry), as the
// part of the service it provides is missing meanwhile. Default off:
// readiness reflects only the started handshake and shutdown, so a child
// that keeps crashing does not take the whole process out of rotation. It
// does not affect /livez.
func WithRestartingUnready() Option {
	return optionFunc(func(o *options) { o.restartingUnready = true })
}

// Livez returns the /livez handler for the tree rooted at sup: 200 while every
// supervisor in the tree answers, restarts or not.
func Livez(sup *supervisor.Supervisor, opts ...Option) http.Handler {
	return &endpoint{name: "livez", sup: sup, opts: newOptions(opts), checks: liveChecks}
}

// Readyz returns the /readyz handler for the tree rooted at sup: 200 once
// every supervisor in it has started its children, and until a shutdown
// begins.
func Readyz(sup *supervisor.Supervisor, opts ...Option) http.Handler {
	return &endpoint{name: "readyz", sup: sup, opts: newOptions(opts), checks: readyChecks}
}

// Register mounts [Livez] at "GET /livez" and [Readyz] at "GET /readyz" on
// mux (GET patterns also match HEAD).
func Register(mux *http.ServeMux, sup *supervisor.Supervisor, opts ...Option) {
	mux.Handle("GET /livez", Livez(sup, opts...))
	mux.Handle("GET /readyz", Readyz(sup, opts...))
}

// marks counts, per root, the calls of Unready not yet undone.
var marks struct {
	mu sync.Mutex
	n  map[*supervisor.Supervisor]int // guarded by mu
}

// Unready marks the tree rooted at sup as going away before it stops: from
// now on [Readyz] for sup answers 503, its "shutdown" check failing, while
// the tree itself goes on serving. A load balancer that probes /readyz then
// stops sending new traffic before the listeners close. daemon.Run calls it
// at the first signal when given a shutdown delay (daemon.WithShutdownDelay).
//
// The returned function removes the mark; calling it more than once does
// nothing. Marks nest: the tree is ready again once every mark is removed.
func Unready(sup *supervisor.Supervisor) (undo func()) {
	if sup == nil {
		return func() {}
	}
	marks.mu.Lock()
	if marks.n == nil {
		marks.n = make(map[*supervisor.Supervisor]int)
	}
	marks.n[sup]++
	marks.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			marks.mu.Lock()
			defer marks.mu.Unlock()
			if marks.n[sup]--; marks.n[sup] <= 0 {
				delete(marks.n, sup)
			}
		})
	}
}

func markedUnready(sup *supervisor.Supervisor) bool {
	marks.mu.Lock()
	defer marks.mu.Unlock()
	return marks.n[sup] > 0
}

// check is the outcome of one named check; err is nil when it passed.
type check struct {
	name string
	err  error
}

var (
	errStarting    = errors.New("starting")
	errNotStarted  = errors.New("not started yet")
	errRestarting  = errors.New("restarting")
	errShutdown    = errors.New("shutting down")
	errNotAnswered = errors.New("a nested supervisor did not answer in time")
)

// endpoint serves one of the two probes.
type endpoint struct {
	name   string
	sup    *supervisor.Supervisor
	opts   options
	checks func(t *supervisor.Tree, expired, marked bool, o *options) []check
}

// ServeHTTP runs the checks and writes the Kubernetes-style answer.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), e.opts.timeout)
	defer cancel()
	var checks []check
	tree, err := e.sup.Tree(ctx)
	if err != nil {
		checks = []check{{name: "ping", err: err}}
	} else {
		// Tree leaves out a nested supervisor that does not answer; an
		// expired context is how that shows.
		checks = e.checks(tree, ctx.Err() != nil, markedUnready(e.sup), &e.opts)
	}

	query := r.URL.Query()
	excluded := make(map[string]bool)
	for _, names := range query["exclude"] {
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				excluded[n] = true
			}
		}
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		switch {
		case excluded[c.name]:
			fmt.Fprintf(&b, "[+]%s excluded: ok\n", c.name)
			delete(excluded, c.name)
		case c.err != nil:
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %s\n", c.name, oneLine(c.err))
		default:
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	if len(excluded) > 0 {
		unknown := make([]string, 0, len(excluded))
		for n := range excluded {
			unknown = append(unknown, strconv.Quote(n))
		}
		slices.Sort(unknown)
		fmt.Fprintf(&b, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(unknown, ","))
	}

	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), e.name)
		return
	}
	if _, verbose := query["verbose"]; !verbose {
		fmt.Fprint(w, "ok")
		return
	}
	fmt.Fprintf(w, "%s%s check passed\n", b.String(), e.name)
}

// liveChecks: the tree answered; each supervisor in it is listed.
func liveChecks(t *supervisor.Tree, expired, _ bool, _ *options) []check {
	if expired {
		return []check{{name: "ping", err: errNotAnswered}}
	}
	checks := []check{{name: "ping"}}
	walkSupervisors(t, func(s *supervisor.Tree) {
		checks = append(checks, check{name: s.Path})
	})
	return checks
}

// readyChecks: no shutdown under way or announced (marked, by Unready), every
// supervisor started, and each child's part in that.
func readyChecks(t *supervisor.Tree, expired, marked bool, o *options) []check {
	ping := check{name: "ping"}
	if expired {
		ping.err = errNotAnswered
	}
	shutdown := check{name: "shutdown"}
	if t.Stopping || marked {
		shutdown.err = errShutdown
	}
	checks := []check{ping, shutdown}
	var visit func(s *supervisor.Tree)
	visit = func(s *supervisor.Tree) {
		c := check{name: s.Path}
		if !s.Ready {
			c.err = errStarting
		}
		checks = append(checks, c)
		for _, ch := range s.Children {
			if sub := s.Subtrees[ch.ID]; sub != nil {
				visit(sub)
				continue
			}
			checks = append(checks, check{name: ch.Path, err: childReadiness(s, ch, o)})
		}
	}
	visit(t)
	return checks
}

// childReadiness returns why a child keeps its supervisor from being ready,
// or nil. A child that is not running once its supervisor has started (a
// transient child that finished, one that declined its start, one stopped
// through the API) is fine: that is the tree's declared state.
func childReadiness(parent *supervisor.Tree, c supervisor.ChildInfo, o *options) error {
	switch {
	case c.State == supervisor.StateRunning:
		return nil
	case c.State == supervisor.StateRestarting:
		if o.restartingUnready && c.Restart == child.Permanent {
			return errRestarting
		}
		return nil
	case parent.Ready:
		return nil
	case !c.Started.IsZero():
		return errStarting // launched, waiting for its readiness
	default:
		return errNotStarted
	}
}

// walkSupervisors calls fn for t and every nested supervisor, depth first in
// start order.
func walkSupervisors(t *supervisor.Tree, fn func(*supervisor.Tree)) {
	fn(t)
	for _, c := range t.Children {
		if sub := t.Subtrees[c.ID]; sub != nil {
			walkSupervisors(sub, fn)
		}
	}
}

// oneLine keeps the first line of err's text, so a reason cannot break the
// one-line-per-check format.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
