package main

import (
	"net/http"
	"net/http/pprof"

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
func adminHandler(root *supervisor.Supervisor) http.Handler {
	mux := http.NewServeMux()
	health.Register(mux, root)
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
