package treeview

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
)

// DefaultTimeout bounds each snapshot when [WithTimeout] is not given.
const DefaultTimeout = time.Second

var (
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

// Option configures [Handler].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	timeout time.Duration
	clock   supervisor.Clock
}

// WithTimeout bounds how long a snapshot waits for the tree to answer. A zero
// or negative d means [DefaultTimeout]. The last one wins.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d <= 0 {
			d = DefaultTimeout
		}
		o.timeout = d
	})
}

// WithClock sets the clock that stamps each [Document]. Default the system
// clock; tests pass the supervisors' fake clock. A nil c is ignored. The last
// one wins.
func WithClock(c supervisor.Clock) Option {
	return optionFunc(func(o *options) {
		if c != nil {
			o.clock = c
		}
	})
}

// systemClock is the default clock: the real time.
type systemClock struct{}

// Now returns time.Now().
func (systemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Handler serves the tree rooted at sup: "tree.json" (a [Document]) and the
// HTML page at "/", relative to where it is mounted; any other path is 404,
// and methods other than GET and HEAD are 405. A tree that is not running or
// does not answer makes tree.json answer 503 with {"error": "..."}.
func Handler(sup *supervisor.Supervisor, opts ...Option) http.Handler {
	o := options{timeout: DefaultTimeout, clock: systemClock{}}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return &handler{sup: sup, opts: o, page: buildPage(sup.Name())}
}

type handler struct {
	sup  *supervisor.Supervisor
	opts options
	page page
}

// ServeHTTP routes to the JSON snapshot or the page.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "tree.json" || strings.HasSuffix(p, "/tree.json"):
		h.serveJSON(w, r)
	case p == "" || strings.HasSuffix(p, "/"):
		h.servePage(w)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.timeout)
	defer cancel()
	t, err := h.sup.Tree(ctx)
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	doc := NewDocument(t, h.opts.clock.Now())
	a, announced := health.AnnouncedShutdown(h.sup)
	if t.Stopping || announced {
		doc.Shutdown = &Shutdown{Stopping: t.Stopping}
		if announced {
			dl := a.Deadline
			doc.Shutdown.Deadline = &dl
			// The deadline is on the real clock, as daemon.Run reads it.
			doc.Shutdown.Left = max(time.Until(dl), 0).Round(100 * time.Millisecond).String()
		}
	}
	if t.Stopping {
		// One goroutine profile, only while stopping: what the children the
		// shutdown waits for still run.
		markWaiting(doc.Root, supervisor.GoroutinesUnder(h.sup.Name()))
	}
	_ = json.NewEncoder(w).Encode(doc)
}

// page is the HTML page, with the Content-Security-Policy that allows
// exactly its inline style and script.
type page struct {
	html string
	csp  string
}

func buildPage(name string) page {
	title := html.EscapeString("arbor: " + name)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>" + title + "</title>\n")
	b.WriteString("<style>" + pageCSS + "</style>\n</head>\n<body>\n")
	b.WriteString("<h1>" + title + "</h1>\n")
	b.WriteString("<div id=\"banner\" hidden></div>\n")
	b.WriteString("<div id=\"status\">loading tree.json…</div>\n")
	b.WriteString("<div id=\"tree\"></div>\n")
	b.WriteString("<noscript>This page draws the tree with JavaScript; the data is at <a href=\"tree.json\">tree.json</a>.</noscript>\n")
	b.WriteString("<script>" + pageJS + "</script>\n</body>\n</html>\n")
	csp := "default-src 'none'; connect-src 'self'; img-src 'self' data:" +
		"; style-src " + hashSource(pageCSS) + "; script-src " + hashSource(pageJS) +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page{html: b.String(), csp: csp}
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func (h *handler) servePage(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.page.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(h.page.html))
}
