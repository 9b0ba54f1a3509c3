// Package health serves a supervision tree's liveness and readiness as the
// HTTP endpoints orchestrators probe: /livez and /readyz, following the
// conventions of the Kubernetes API server.
//
// # Liveness and readiness
//
// [Livez] answers 200 while the supervisors' loops answer: the tree's
// snapshot (supervisor.Supervisor.Tree) comes back within a short timeout
// ([WithTimeout], default [DefaultTimeout]). It stays 200 while children crash
// and restart: containing that is the tree's job, and a failing liveness
// probe would make the platform restart the whole process for it. Only a
// supervisor that no longer answers, or a tree that is not running, fails it.
//
// [Readyz] answers 200 only once the whole tree has started (every supervisor
// in it has started all its children, each through its started handshake)
// and while no shutdown is under way: it turns 503 the moment the root is
// asked to stop, or earlier, when [Unready] announces the stop: daemon.Run
// does that at the signal when given a shutdown delay, so that a load
// balancer stops sending traffic while the listeners still accept it.
// [WithRestartingUnready] also makes it 503 while a permanent child waits to
// be restarted.
//
// # Output
//
// Machines read only the status code: 200, or 503 when a check fails. Without
// ?verbose a passing check answers "ok". With ?verbose, and always on
// failure, the body lists one line per check and per child, then a verdict:
//
//	[+]ping ok
//	[+]shutdown ok
//	[+]root ok
//	[+]root/db ok
//	[-]root/api failed: starting
//	readyz check failed
//
// ?exclude=name (repeatable) skips a check, listed as "[+]name excluded: ok".
// The Kubernetes API server answers 500 on failure and withholds the reasons;
// these endpoints answer 503 and give them, since they are meant for an
// operator's loopback or admin listener. Any status outside 200–399 fails a
// Kubernetes probe.
//
// Mount them with [Register], or with [Livez] and [Readyz] on paths of your
// choosing.
//
// # Examples
//
// ExampleRegister, in example_test.go, mounts both probes and shows a
// verbose answer; pkg.go.dev shows it under [Register].
package health
