package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arborgo/arbor/prom"

	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/treeview"
)

// adminHandler serves the operator's endpoints, on a listener of their own
// that lives as long as the process, outside the tree: it keeps answering
// (/readyz with 503) while the tree shuts down.
//
//	GET /livez, /readyz   probes (?verbose for details)
//	GET /debug/arbor/     the live tree; /debug/arbor/tree.json as JSON
//	GET /debug/pprof/     profiles; goroutines carry the arbor_child label
//	GET /metrics          Prometheus metrics: the tree's (arbor_*) and the Go runtime's
//	POST /debug/crash?child=store|workers
//	                      make a child panic, to watch the tree contain it
func adminHandler(root *supervisor.Supervisor, app *App, metrics *prom.Collector) http.Handler {
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, collectors.NewGoCollector())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /debug/crash", func(w http.ResponseWriter, r *http.Request) {
		if err := app.Crash(r.URL.Query().Get("child")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "crashing", r.URL.Query().Get("child"))
	})
	health.Register(mux, root)
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
