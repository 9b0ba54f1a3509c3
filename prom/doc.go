// Package prom exports the state of an arbor supervision tree as Prometheus
// metrics.
//
// A [Collector] is a prometheus.Collector that you register on a registry of
// your own; the package never touches prometheus.DefaultRegisterer, so tests
// stay isolated and an application can wrap it with a prefix or extra labels
// (prometheus.WrapRegistererWith).
//
//	c := prom.NewCollector()
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//
//	sup, err := supervisor.New("app", specs, supervisor.WithHook(c.Hook()))
//	...
//	c.Watch(sup)
//
// # Counters and gauges
//
// Counters are kept from events: pass [Collector.Hook] with supervisor.WithHook
// to the root supervisor; a nested supervisor without hooks of its own
// inherits its parent's. A counter appears, at zero, once the hook has seen an event from
// its supervisor or child. It stays while that child or supervisor is in the
// watched tree, or for the life of the collector without Watch.
//
// Gauges are read at scrape time: [Collector.Watch] names the root supervisor,
// and each scrape asks it for its supervisor.Tree, bounded by
// [WithScrapeTimeout]. Children that are removed, and nested supervisors that
// are not running, simply disappear from the next scrape; nothing has to be
// deleted. Without Watch only the counters are exported.
//
// # Metrics
//
//	arbor_child_restarts_total{supervisor,child,reason}       counter
//	arbor_child_shutdown_timeouts_total{supervisor,child}     counter
//	arbor_child_goroutine_leaks_total{supervisor,child}       counter
//	arbor_supervisor_intensity_exceeded_total{supervisor}     counter
//	arbor_child_up{supervisor,child}                          gauge (Watch)
//	arbor_supervisor_restarts_in_window{supervisor}           gauge (Watch)
//	arbor_supervisor_intensity{supervisor}                    gauge (Watch)
//	arbor_tree_ready                                          gauge (Watch)
//	arbor_singleton_leader{name}                              gauge (hook)
//	arbor_singleton_terms_lost_total{name}                    counter (hook)
//	arbor_registry_conflicts_total{registry}                  counter (CountConflicts)
//
// The supervisor label is the supervisor's path, such as "app/db", and the
// child label the child's ID, or for the instances of a simple_one_for_one
// supervisor their template's ID. The reason of a restart, as [Reason] computes it
// from an event, is one of
//
//   - normal: the child returned nil and was restarted (a permanent child);
//   - shutdown: it returned an error wrapping child.ErrShutdown;
//   - panic: it panicked (a *child.PanicError);
//   - error: it returned any other error;
//   - start_error: a start failed: the child returned or panicked before it
//     was ready (the initial start too, after which the supervisor fails);
//   - timeout: a start failed because the child did not report ready within
//     its start budget (supervisor.ErrStartTimeout).
//
// Exits that do not lead to a restart are not counted. The labels never carry
// error text, so their number stays bounded by the specs; the series of a
// child that no longer exists are dropped at the next scrape of a watched
// tree.
//
// # Logs and metrics
//
// zap's production configuration samples repeated messages, so in a restart
// storm most "child terminated" log lines are dropped by design. The counters
// here see every event: alert on arbor_child_restarts_total and
// arbor_supervisor_intensity_exceeded_total, not on log lines.
package prom
