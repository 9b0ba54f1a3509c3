// Package kubernetes holds daemon.yaml, a manifest that runs the example
// daemon on Kubernetes, and the test that checks its numbers against the
// daemon's: the grace period covers the preStop pause and the shutdown budget,
// and the probes point at the daemon's /livez and /readyz.
package kubernetes
