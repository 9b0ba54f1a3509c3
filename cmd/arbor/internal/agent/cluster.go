package agent

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/registry"
)

// Location is where a registered name lives: the value of every name the
// agent registers.
type Location struct {
	Node string `json:"node"`
	Path string `json:"path"`
	PID  int    `json:"pid,omitempty"`
}

// Cluster is the engine behind a tree file's cluster: section.
type Cluster struct {
	// Elector runs the singletons.
	Elector cluster.Elector
	// Names holds the cluster-scoped names.
	Names registry.Backend[Location]
}

// Option configures New.
type Option func(*Agent)

// WithCluster gives the agent the engine that runs singletons and holds
// cluster-scoped names. Without it, a tree that needs one is refused.
func WithCluster(c Cluster) Option { return func(a *Agent) { a.cluster = &c } }

// clusterState is the agent's cluster side.
type clusterState struct {
	cluster *Cluster                    // nil without a cluster engine
	local   registry.Registry[Location] // local-scoped names
}

// errNoEngine is returned for a tree that needs a cluster engine the agent
// has not been given.
var errNoEngine = fmt.Errorf("this arbor has no cluster engine")

// wrap gives the process spec of n its register: and singleton: settings.
func (a *Agent) wrap(n *treefile.Process, p *proc.Process, spec child.Spec) (child.Spec, error) {
	if r := n.Register; r != nil {
		names := registry.Backend[Location](&a.local)
		if r.Scope == treefile.ScopeCluster {
			if a.cluster == nil {
				return child.Spec{}, fmt.Errorf("%s: register: %w", n.Path, errNoEngine)
			}
			names = a.cluster.Names
		}
		spec.Service = &named{svc: spec.Service, name: r.Name, scope: r.Scope, names: names,
			at: Location{Node: a.node, Path: n.Path}, log: a.log}
	}
	if n.Singleton == "" {
		return spec, nil
	}
	if a.cluster == nil {
		return child.Spec{}, fmt.Errorf("%s: singleton: %w", n.Path, errNoEngine)
	}
	// Its terms are supervisor events (leadership_acquired, _lost,
	// _released): logged, and streamed by the broadcaster with the token.
	s, err := cluster.Singleton(spec, a.cluster.Elector, cluster.WithName(n.Singleton))
	if err != nil {
		return child.Spec{}, fmt.Errorf("%s: %w", n.Path, err)
	}
	return s, nil
}

// named registers a process's name while it runs: from the moment it is
// ready until it has exited.
type named struct {
	svc   child.Service
	name  string
	scope string
	names registry.Backend[Location]
	at    Location
	log   *zap.Logger
}

func (s *named) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // unregisters the name
	var mu sync.Mutex
	var regErr error
	err := s.svc.Serve(proc.WithReadyHook(ctx, func(pid int) bool {
		at := s.at
		at.PID = pid
		if err := s.names.Register(ctx, s.name, at); err != nil {
			mu.Lock()
			regErr = fmt.Errorf("register %q (%s): %w", s.name, s.scope, err)
			mu.Unlock()
			cancel()
			return false
		}
		s.log.Info("name registered", zap.String("child", at.Path), zap.String("name", s.name),
			zap.String("scope", s.scope), zap.Int("pid", pid))
		return true
	}))
	mu.Lock()
	defer mu.Unlock()
	if regErr != nil {
		return regErr
	}
	return err
}

// Name is one line of GET /v1/names.
type Name struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	Location
}

// Names returns the live names, local ones first, each scope sorted.
func (a *Agent) Names() []Name {
	out := []Name{}
	add := func(scope string, b registry.Backend[Location]) {
		for _, n := range b.Names() {
			if at, ok := b.Lookup(n); ok {
				out = append(out, Name{Name: n, Scope: scope, Location: at})
			}
		}
	}
	add(treefile.ScopeLocal, &a.local)
	if a.cluster != nil {
		add(treefile.ScopeCluster, a.cluster.Names)
	}
	return out
}

func (a *Agent) handleNames(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Names())
}

// checkCluster refuses a tree file that needs a cluster engine the agent
// has not been given.
func (a *Agent) checkCluster(f *treefile.File) error {
	if f.Cluster != nil && a.cluster == nil {
		return fmt.Errorf("%s: cluster: %w", f.Name, errNoEngine)
	}
	return nil
}

// clusterWarnings are the changes of the cluster: section a reload cannot
// apply.
func clusterWarnings(old, cur *treefile.Cluster) []string {
	if (old == nil) == (cur == nil) && (old == nil || (slices.Equal(old.Endpoints, cur.Endpoints) &&
		old.TTL == cur.TTL && old.Margin == cur.Margin && old.Prefix == cur.Prefix && old.Priority == cur.Priority)) {
		return nil
	}
	return []string{"cluster: a change of the cluster section applies only after arbor restarts"}
}
