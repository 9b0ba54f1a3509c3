// Package httpchild runs an HTTP server as a child of a supervision tree:
// the child counts as started once it accepts connections, and stops within
// its shutdown budget, finishing the requests in flight when it can and
// cutting them when it must. It imports only the standard library and arbor's
// package child.
//
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
//	root, err := supervisor.New("app", []child.Spec{
//		{ID: "db", Service: db, Kind: child.KindSupervisor},
//		{ID: "api", Service: httpchild.New(srv), AwaitReady: true, Shutdown: 10 * time.Second},
//	})
//
// # Start
//
// Each run of the child ([Service.Serve]) listens on the server's Addr, then
// reports ready with child.Ready, then serves. With AwaitReady set in its
// spec, its next sibling starts only once connections are accepted, and a
// failure to listen (an address in use, a bad address, a missing certificate
// for TLS) is a failed start that names the child, not a crash after it.
//
// # Stop
//
// When its supervisor stops it, the child calls http.Server.Shutdown: the
// listener closes at once, idle connections close, and the requests in
// flight are waited for, until the child's stop deadline (child.DrainContext:
// just before the end of its child.Spec.Shutdown budget). If requests are
// still running then, it calls http.Server.Close, which cuts them, writes one
// line saying how many to the server's ErrorLog, and returns an error
// matching [ErrRequestsCut]. Give the child a budget longer than the slowest
// request you mean to finish.
//
// # Restarts
//
// An http.Server cannot serve again once it has been shut down, so the
// *http.Server given to [New] is a template: each run serves a fresh copy of
// its settings. Settings changed on the template after New reach the next
// run, not the current one.
//
// # Goroutines and contexts
//
// The server's goroutines, and so every request handler, run under the
// child's pprof label (supervisor.LabelKey), so a stuck handler is reported as
// the child that serves it. A request's context carries the child context's
// values (child.Path works in a handler), not its cancellation, unless the
// template sets BaseContext.
//
// # Examples
//
// ExampleNew, in example_test.go, serves a handler as a child and calls it;
// examples/hello and examples/daemon use the package in complete programs.
package httpchild
