package prom

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/registry"
	"github.com/arborgo/arbor/supervisor"
)

// DefaultScrapeTimeout bounds the read of the watched tree during one scrape
// when [WithScrapeTimeout] is not given.
const DefaultScrapeTimeout = time.Second

// Reasons of arbor_child_restarts_total, as [Reason] returns them.
const (
	ReasonNormal     = "normal"      // returned nil
	ReasonShutdown   = "shutdown"    // returned an error wrapping child.ErrShutdown
	ReasonError      = "error"       // returned any other error
	ReasonPanic      = "panic"       // panicked
	ReasonStartError = "start_error" // failed to start
	ReasonTimeout    = "timeout"     // did not report ready within its start budget
)

var (
	descRestarts = prometheus.NewDesc("arbor_child_restarts_total",
		"Child exits that led to a restart, and failed starts, by reason.",
		[]string{"supervisor", "child", "reason"}, nil)
	descShutdownTimeouts = prometheus.NewDesc("arbor_child_shutdown_timeouts_total",
		"Child incarnations abandoned because they did not return within their shutdown budget.",
		[]string{"supervisor", "child"}, nil)
	descLeaks = prometheus.NewDesc("arbor_child_goroutine_leaks_total",
		"Child incarnations that returned leaving goroutines running (reported under supervisor.WithLeakCheck).",
		[]string{"supervisor", "child"}, nil)
	descLeader = prometheus.NewDesc("arbor_singleton_leader",
		"Whether this node leads the cluster singleton (1) or not (0), from its supervisor's leadership events.",
		[]string{"name"}, nil)
	descTermsLost = prometheus.NewDesc("arbor_singleton_terms_lost_total",
		"Terms of the cluster singleton this node lost (lease lost or taken over), as opposed to handed off.",
		[]string{"name"}, nil)
	descConflicts = prometheus.NewDesc("arbor_registry_conflicts_total",
		"Registers refused because another live entry held the name (registry.ErrTaken), from prom.CountConflicts.",
		[]string{"registry"}, nil)
	descIntensityExceeded = prometheus.NewDesc("arbor_supervisor_intensity_exceeded_total",
		"Times the supervisor gave up because it exceeded its restart intensity (or its backoff policy stopped).",
		[]string{"supervisor"}, nil)
	descChildUp = prometheus.NewDesc("arbor_child_up",
		"Whether the child has a running incarnation (1) or not (0); for the instances of a simple_one_for_one template, how many run.",
		[]string{"supervisor", "child"}, nil)
	descInWindow = prometheus.NewDesc("arbor_supervisor_restarts_in_window",
		"Restarts inside the supervisor's current intensity window.",
		[]string{"supervisor"}, nil)
	descIntensity = prometheus.NewDesc("arbor_supervisor_intensity",
		"Restarts the supervisor allows within its intensity period (MaxRestarts).",
		[]string{"supervisor"}, nil)
	descTreeReady = prometheus.NewDesc("arbor_tree_ready",
		"Whether every supervisor of the watched tree has started all its children and is not stopping (1) or not (0).",
		nil, nil)
)

// Option configures a [Collector] in [NewCollector].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	scrapeTimeout time.Duration
}

// WithScrapeTimeout bounds how long one scrape waits for the watched tree to
// answer. A tree that does not answer in time is exported as not ready, with
// no per-child gauges. Default [DefaultScrapeTimeout]; a value of zero or less
// means the default. The last one wins.
func WithScrapeTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.scrapeTimeout = d })
}

// Collector is a prometheus.Collector for arbor supervisors: counters from
// the events its [Collector.Hook] receives, gauges from the tree it
// [Collector.Watch]es. Its methods are safe for concurrent use.
type Collector struct {
	scrapeTimeout time.Duration // immutable

	mu       sync.Mutex
	root     TreeSource             // guarded by mu: the watched tree, or nil
	restarts map[restartKey]float64 // guarded by mu
	timeouts map[childKey]float64   // guarded by mu
	leaks    map[childKey]float64   // guarded by mu
	leading  map[string]bool        // guarded by mu: by singleton name
	lost     map[string]float64     // guarded by mu: by singleton name
	conflict map[string]float64     // guarded by mu: by registry label
	exceeded map[string]float64     // guarded by mu: by supervisor path
}

type childKey struct{ supervisor, child string }

type restartKey struct {
	childKey
	reason string
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector with no counts and no tree to watch.
// Register it with reg.MustRegister(c), pass [Collector.Hook] to each
// supervisor, and call [Collector.Watch] with the root.
func NewCollector(opts ...Option) *Collector {
	o := options{scrapeTimeout: DefaultScrapeTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.scrapeTimeout <= 0 {
		o.scrapeTimeout = DefaultScrapeTimeout
	}
	return &Collector{
		scrapeTimeout: o.scrapeTimeout,
		restarts:      make(map[restartKey]float64),
		timeouts:      make(map[childKey]float64),
		leaks:         make(map[childKey]float64),
		leading:       make(map[string]bool),
		lost:          make(map[string]float64),
		conflict:      make(map[string]float64),
		exceeded:      make(map[string]float64),
	}
}

// Hook returns the hook that updates the counters. Pass it with
// supervisor.WithHook to every supervisor of the tree; one hook serves them
// all. Supervisors call hooks on a goroutine of their own, so an event is
// counted shortly after it happens, not before the supervisor moves on.
func (c *Collector) Hook() supervisor.Hook { return c.record }

func (c *Collector) record(ev supervisor.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.exceeded[ev.Supervisor]; !ok {
		c.exceeded[ev.Supervisor] = 0
	}
	ck := childKey{supervisor: ev.Supervisor, child: childLabel(ev.Child, ev.Template)}
	if ev.Child != "" {
		if _, ok := c.timeouts[ck]; !ok {
			c.timeouts[ck] = 0
		}
	}
	switch ev.Kind {
	case supervisor.ChildExited, supervisor.ChildStartFailed:
		if r := Reason(ev); r != "" {
			c.restarts[restartKey{childKey: ck, reason: r}]++
		}
	case supervisor.ChildAbandoned:
		c.timeouts[ck]++
	case supervisor.ChildLeaked:
		c.leaks[ck]++
	case supervisor.IntensityExceeded:
		c.exceeded[ev.Supervisor]++
	case supervisor.LeadershipAcquired, supervisor.LeadershipLost, supervisor.LeadershipReleased:
		if ev.Term == nil {
			break
		}
		name := ev.Term.Name
		c.leading[name] = ev.Kind == supervisor.LeadershipAcquired
		if _, ok := c.lost[name]; !ok {
			c.lost[name] = 0
		}
		if ev.Kind == supervisor.LeadershipLost {
			c.lost[name]++
		}
	}
}

// CountConflicts returns b with its Register calls counted: each one that
// fails with an error matching [registry.ErrTaken] adds one to
// arbor_registry_conflicts_total{registry=label}. It serves the local
// [registry.Registry] and a cluster-wide backend alike; on a cluster, a
// steady rate of conflicts usually means two nodes run what should run once.
// The series exists, at 0, from this call. Every other call goes straight to
// b. Hand the returned backend to the code that registers.
func CountConflicts[V any](c *Collector, label string, b registry.Backend[V]) registry.Backend[V] {
	c.mu.Lock()
	if _, ok := c.conflict[label]; !ok {
		c.conflict[label] = 0
	}
	c.mu.Unlock()
	return &counted[V]{Backend: b, c: c, label: label}
}

// counted is a [registry.Backend] whose refused Registers are counted.
type counted[V any] struct {
	registry.Backend[V]
	c     *Collector // immutable
	label string     // immutable
}

func (b *counted[V]) Register(ctx context.Context, name string, v V) error {
	err := b.Backend.Register(ctx, name, v)
	if errors.Is(err, registry.ErrTaken) {
		b.c.mu.Lock()
		b.c.conflict[b.label]++
		b.c.mu.Unlock()
	}
	return err
}

// childLabel is the child label of a child: its ID, or, for an instance of a
// simple_one_for_one supervisor, its template's ID, so that series do not
// grow with every instance ever started.
func childLabel(id, template string) string {
	if template != "" {
		return template
	}
	return id
}

// Reason returns the reason label arbor_child_restarts_total counts ev under,
// or "" if ev does not count: a [supervisor.ChildExited] event that leads to a
// restart gives [ReasonNormal], [ReasonShutdown], [ReasonPanic] or
// [ReasonError] by its Err; a [supervisor.ChildStartFailed] event gives
// [ReasonTimeout] if Err matches [supervisor.ErrStartTimeout], else
// [ReasonStartError].
func Reason(ev supervisor.Event) string {
	switch ev.Kind {
	case supervisor.ChildExited:
		if !ev.Restarted {
			return ""
		}
		var pe *child.PanicError
		switch {
		case ev.Err == nil:
			return ReasonNormal
		case errors.As(ev.Err, &pe):
			// Before ErrShutdown: a panic value that wraps it is still a panic.
			return ReasonPanic
		case errors.Is(ev.Err, child.ErrShutdown):
			return ReasonShutdown
		default:
			return ReasonError
		}
	case supervisor.ChildStartFailed:
		if errors.Is(ev.Err, supervisor.ErrStartTimeout) {
			return ReasonTimeout
		}
		return ReasonStartError
	}
	return ""
}

// TreeSource is what [Collector.Watch] reads at scrape time: a
// *supervisor.Supervisor or a *supervisor.Simple.
type TreeSource interface {
	Tree(ctx context.Context) (*supervisor.Tree, error)
}

// Watch makes every later scrape read root's tree (root.Tree) for the gauges
// arbor_child_up, arbor_supervisor_restarts_in_window,
// arbor_supervisor_intensity and arbor_tree_ready. A root that is not running
// is exported as a tree that is not ready. Watch replaces the root of an
// earlier call; Watch(nil) stops exporting the gauges.
func (c *Collector) Watch(root TreeSource) {
	c.mu.Lock()
	c.root = root
	c.mu.Unlock()
}

// Describe sends the descriptors of every metric the collector can export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRestarts, descShutdownTimeouts, descLeaks, descIntensityExceeded, descLeader, descTermsLost,
		descConflicts, descChildUp, descInWindow, descIntensity, descTreeReady,
	} {
		ch <- d
	}
}

// Collect sends the counters and, if a tree is watched, reads it and sends the
// gauges. It is called by the registry at scrape time.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	root := c.root
	c.mu.Unlock()
	// The tree first, without holding c.mu: the counters of children it no
	// longer has are dropped before they are sent.
	var tree *supervisor.Tree
	var treeErr error
	if root != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.scrapeTimeout)
		tree, treeErr = root.Tree(ctx)
		cancel()
		if treeErr == nil {
			c.prune(tree)
		}
	}

	c.mu.Lock()
	restarts := make([]prometheus.Metric, 0, len(c.restarts))
	for k, v := range c.restarts {
		restarts = append(restarts, constMetric(descRestarts, prometheus.CounterValue, v, k.supervisor, k.child, k.reason))
	}
	timeouts := make([]prometheus.Metric, 0, len(c.timeouts))
	for k, v := range c.timeouts {
		timeouts = append(timeouts, constMetric(descShutdownTimeouts, prometheus.CounterValue, v, k.supervisor, k.child))
	}
	leaks := make([]prometheus.Metric, 0, len(c.leaks))
	for k, v := range c.leaks {
		leaks = append(leaks, constMetric(descLeaks, prometheus.CounterValue, v, k.supervisor, k.child))
	}
	other := make([]prometheus.Metric, 0, len(c.leading)+len(c.lost)+len(c.conflict))
	for name, l := range c.leading {
		other = append(other, constMetric(descLeader, prometheus.GaugeValue, boolValue(l), name))
	}
	for name, v := range c.lost {
		other = append(other, constMetric(descTermsLost, prometheus.CounterValue, v, name))
	}
	for label, v := range c.conflict {
		other = append(other, constMetric(descConflicts, prometheus.CounterValue, v, label))
	}
	exceeded := make([]prometheus.Metric, 0, len(c.exceeded))
	for sup, v := range c.exceeded {
		exceeded = append(exceeded, constMetric(descIntensityExceeded, prometheus.CounterValue, v, sup))
	}
	c.mu.Unlock()

	for _, ms := range [][]prometheus.Metric{restarts, timeouts, leaks, other, exceeded} {
		for _, m := range ms {
			ch <- m
		}
	}
	if root != nil {
		c.collectTree(ch, tree, treeErr)
	}
}

// collectTree sends the gauges of the tree read for this scrape (err: it did not answer).
func (c *Collector) collectTree(ch chan<- prometheus.Metric, tree *supervisor.Tree, err error) {
	if err != nil {
		ch <- constMetric(descTreeReady, prometheus.GaugeValue, 0)
		return
	}
	ready := true
	seen := make(map[string]bool)
	var walk func(t *supervisor.Tree)
	walk = func(t *supervisor.Tree) {
		if seen[t.Path] {
			return // the same supervisor reached twice would export duplicates
		}
		seen[t.Path] = true
		if !t.Ready || t.Stopping {
			ready = false
		}
		ch <- constMetric(descInWindow, prometheus.GaugeValue, float64(t.InWindow), t.Path)
		ch <- constMetric(descIntensity, prometheus.GaugeValue, float64(t.Intensity.MaxRestarts), t.Path)
		up := make(map[string]float64, len(t.Children))
		var labels []string
		for _, ci := range t.Children {
			l := childLabel(ci.ID, ci.Template)
			if _, ok := up[l]; !ok {
				labels = append(labels, l)
			}
			up[l] += boolValue(ci.State == supervisor.StateRunning)
		}
		for _, l := range labels {
			ch <- constMetric(descChildUp, prometheus.GaugeValue, up[l], t.Path, l)
		}
		ids := make([]string, 0, len(t.Subtrees))
		for id := range t.Subtrees {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			walk(t.Subtrees[id])
		}
	}
	walk(tree)
	ch <- constMetric(descTreeReady, prometheus.GaugeValue, boolValue(ready))
}

// prune drops the counters of children and supervisors that are no longer
// in the watched tree (deleted, temporary, removed by Apply, or a nested
// supervisor no longer running), so that the series do not grow without
// bound. A simple_one_for_one template keeps its series while it has no
// instance. A child that comes back starts its counters from zero, which
// Prometheus reads as a counter reset.
func (c *Collector) prune(tree *supervisor.Tree) {
	sups := make(map[string]bool)
	live := make(map[childKey]bool)
	var walk func(t *supervisor.Tree)
	walk = func(t *supervisor.Tree) {
		if sups[t.Path] {
			return
		}
		sups[t.Path] = true
		if t.Template != "" {
			live[childKey{supervisor: t.Path, child: t.Template}] = true
		}
		for _, ci := range t.Children {
			live[childKey{supervisor: t.Path, child: childLabel(ci.ID, ci.Template)}] = true
		}
		for _, sub := range t.Subtrees {
			walk(sub)
		}
	}
	walk(tree)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.restarts {
		if !live[k.childKey] {
			delete(c.restarts, k)
		}
	}
	for k := range c.timeouts {
		if !live[k] {
			delete(c.timeouts, k)
		}
	}
	for k := range c.leaks {
		if !live[k] {
			delete(c.leaks, k)
		}
	}
	for sup := range c.exceeded {
		if !sups[sup] {
			delete(c.exceeded, sup)
		}
	}
}

// constMetric is prometheus.MustNewConstMetric without the panic: a label value
// that is not valid UTF-8 (a child ID can be any string) fails that one metric
// at Gather instead of crashing the scrape.
func constMetric(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, vt, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
