package supervisor

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/strategy"
)

// Supervisor runs a list of children and keeps them running: OTP's
// supervisor. Build one with [New], run it with [Supervisor.Serve] (or
// [Supervisor.Start] and [Supervisor.Stop]), and nest it in another by using it
// as a child's [child.Service].
//
// All of a supervisor's state belongs to one goroutine, the one running Serve;
// every method is a message to it, so methods are safe from any goroutine,
// including from inside a child.
//
// The zero Supervisor is not usable: its methods that return an error return
// [ErrNotBuilt], and the others harmless values (Ready nil, Config the zero
// Config, Name "", Strategy the zero Strategy). So do those of a zero [Simple].
type Supervisor struct {
	name string
	disp *dispatcher // nil without hooks; immutable

	instances atomic.Uint64 // simple_one_for_one instances ever started, across Serves: their IDs
	tree      atomic.Uint64 // its tree identity when it serves as a root (LabelTree); 0 until then

	mu    sync.Mutex
	specs []child.Spec // guarded by mu: validated, with defaults; what the next Serve starts
	opts  options      // guarded by mu: replaced whole by Apply
	cur   *run         // guarded by mu: the Serve in progress, or nil
	// life is what Ready, Done, Stop and Wait bind to: the lifecycle of the
	// Serve in progress; with none in progress, that of the last Serve, or,
	// before the first, the one the first Serve will take. Guarded by mu;
	// replaced when a Serve begins after the last one was taken.
	life *lifecycle
}

var _ child.Supervising = (*Supervisor)(nil)

// Supervising marks a Supervisor as a supervisor for [child.Spec]: a spec for
// it is of kind [child.KindSupervisor] unless it says otherwise (and it may
// not say KindWorker). It does nothing.
func (s *Supervisor) Supervising() {}

// New returns a supervisor named name for children declared in specs, in the
// order they start. It checks every spec and option and returns an error that
// names the bad field; it starts nothing.
func New(name string, specs []child.Spec, opts ...Option) (*Supervisor, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return build(name, specs, o)
}

func build(name string, specs []child.Spec, o options) (*Supervisor, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: name must not be empty", ErrInvalidOption)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	checked, err := checkSpecs(specs, &o)
	if err != nil {
		return nil, err
	}
	if err := checkNesting(checked, nil); err != nil {
		return nil, err
	}
	s := &Supervisor{name: name, specs: checked, opts: o, life: newLifecycle(1, o.clock)}
	if len(o.hooks) > 0 {
		s.disp = &dispatcher{hooks: o.hooks, log: o.logger}
	}
	return s, nil
}

// CheckSpecs validates specs as [New] would with opts, without building
// anything: each spec's fields, unique IDs, and significant children only
// under an auto-shutdown setting (OTP's check_childspecs).
func CheckSpecs(specs []child.Spec, opts ...Option) error {
	o, err := applyOptions(opts)
	if err != nil {
		return err
	}
	_, err = checkSpecs(specs, &o)
	return err
}

func checkSpecs(specs []child.Spec, o *options) ([]child.Spec, error) {
	out := make([]child.Spec, len(specs))
	seen := make(map[string]struct{}, len(specs))
	groups := make(map[string]bool) // start groups seen so far
	for i, sp := range specs {
		if err := sp.Validate(); err != nil {
			return nil, fmt.Errorf("supervisor: spec %d: %w", i, err)
		}
		if err := checkSignificant(sp, o.flags.AutoShutdown); err != nil {
			return nil, fmt.Errorf("supervisor: spec %d: %w", i, err)
		}
		if _, dup := seen[sp.ID]; dup {
			return nil, fmt.Errorf("%w: %q (spec %d)", ErrDuplicateID, sp.ID, i)
		}
		if g := sp.StartGroup; g != "" && i > 0 && specs[i-1].StartGroup != g && groups[g] {
			return nil, fmt.Errorf("supervisor: spec %d: %w", i, &child.SpecError{ID: sp.ID, Field: "StartGroup", Value: g,
				Reason: "the children of a start group must be adjacent in the spec list"})
		}
		if sp.StartGroup != "" {
			groups[sp.StartGroup] = true
		}
		seen[sp.ID] = struct{}{}
		out[i] = sp.WithDefaults()
	}
	return out, nil
}

// trees numbers the trees of the process (LabelTree).
var trees atomic.Uint64

// treeLabel returns s's tree identity as a root, chosen at its first Serve
// as one and kept.
func (s *Supervisor) treeLabel() string {
	if s.tree.Load() == 0 {
		s.tree.CompareAndSwap(0, trees.Add(1))
	}
	return strconv.FormatUint(s.tree.Load(), 10)
}

// nestedSupervisor is implemented by the services that are arbor supervisors:
// *Supervisor and *Simple.
type nestedSupervisor interface {
	supervisorOf() *Supervisor
}

func (s *Supervisor) supervisorOf() *Supervisor { return s }

// checkNesting rejects a supervisor placed at two places of the tree that
// specs describe (or, with self set, one that contains self): a supervisor
// serves at one place only, and would otherwise fail only when started, with
// ErrAlreadyServing.
func checkNesting(specs []child.Spec, self *Supervisor) error {
	seen := make(map[*Supervisor]string)
	var walk func(specs []child.Spec, prefix string) error
	walk = func(specs []child.Spec, prefix string) error {
		for i, sp := range specs {
			n, ok := sp.Service.(nestedSupervisor)
			if !ok {
				continue
			}
			sub := n.supervisorOf()
			if sub == nil {
				continue // a zero Simple: it fails its start with ErrNotBuilt
			}
			path := prefix + sp.ID
			if where, dup := seen[sub]; dup || sub == self {
				if sub == self {
					where = "its own tree"
				}
				return fmt.Errorf("supervisor: spec %d: %w", i, &child.SpecError{ID: sp.ID, Field: "Service", Value: sub.String(),
					Reason: "this supervisor is already placed at " + where + ": a supervisor can serve at one place of a tree only"})
			}
			seen[sub] = path
			sub.mu.Lock()
			nested := sub.specs
			sub.mu.Unlock()
			if err := walk(nested, path+"/"); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	}
	return walk(specs, "")
}

// Name returns the name given to [New].
func (s *Supervisor) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// String returns the supervisor's name.
func (s *Supervisor) String() string { return "supervisor " + s.Name() }

// Strategy returns the supervisor's restart strategy.
func (s *Supervisor) Strategy() strategy.Strategy {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.flags.Strategy
}
