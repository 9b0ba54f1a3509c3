// Package treeview serves a live view of a supervision tree over HTTP: a
// JSON snapshot for programs, and a small self-contained HTML page for
// people, in the spirit of Erlang's observer.
//
// # Endpoints
//
// [Handler] serves two resources, relative to where it is mounted:
//
//	GET tree.json  the tree as a Document: every supervisor and child, recursively
//	GET /          an HTML page that fetches tree.json every second and draws it
//
// Mount it under a prefix with http.StripPrefix, on an admin listener:
//
//	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))
//
// The page has no external assets: its style and script are inline, allowed
// by a Content-Security-Policy that names their hashes and lets the page
// connect only to its own origin. Every node is an <li> element carrying
// data-path, data-kind, data-state, data-ready and data-restarts attributes
// (data-last-exit-kind and data-last-exit-requested once it has exited,
// data-waiting while a shutdown waits for it), so scripts and tests can read
// the page as well as people.
//
// # During a shutdown
//
// Once the tree's shutdown is asked for, the page shows a banner: "Stopping",
// or, during a shutdown delay, that the tree is unready but still serving;
// for a tree run by daemon.Run, with the time left of the shutdown budget.
// The child the shutdown is waiting for is marked, with the number of its
// goroutines still running, so a stuck stop shows where it is stuck. An exit
// its supervisor asked for (a stop, whatever the child returned) shows in a
// neutral colour; only crashes show in red.
//
// # The snapshot
//
// Each supervisor answers for itself (see supervisor.Supervisor.Tree), so the
// view is consistent per supervisor, not across the tree. A [Node] holds a
// child's path (also the value of the pprof label arbor_child its goroutines
// carry), kind, restart type, state, readiness, restart count, start time and
// last exit with its reason and time; a supervisor's node adds its strategy
// and how many restarts its intensity window holds against the limit.
// [NewDocument] builds a Document from a supervisor.Tree without any I/O;
// the handler adds the [Shutdown] and the waiting children.
//
// # Examples
//
// ExampleHandler, in example_test.go, mounts the view and reads tree.json;
// pkg.go.dev shows it under [Handler].
package treeview
