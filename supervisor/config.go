package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// Flags are a supervisor's settings that [Supervisor.Apply] can change while
// it runs: OTP's supervisor flags. The options of [New] that set them
// ([WithStrategy], [WithIntensity], [WithAutoShutdown]) and [Config] share
// this one type, so a flag cannot be added to one and forgotten in the other.
type Flags struct {
	Strategy     strategy.Strategy
	Intensity    escalation.Intensity
	AutoShutdown AutoShutdown
}

// Config is the part of a supervisor that [Supervisor.Apply] can change while
// it runs: its flags and its list of children.
type Config struct {
	Flags
	Children []child.Spec // start order
}

// Changes reports what [Supervisor.Apply] did, by child ID, in the new start
// order (Removed in the old one).
type Changes struct {
	Added     []string // started at their declared position
	Removed   []string // stopped in reverse start order and deleted
	Changed   []string // stopped and started again with the new spec
	Unchanged []string // left running as they were
	Flags     bool     // strategy, intensity or auto-shutdown changed
	// Failed holds the start errors of added or changed children that did not
	// start; they are kept, not running, as after a failed RestartChild.
	Failed []error
}

// Equaler may be implemented by a [child.Service] to tell [Supervisor.Apply]
// whether a new service is the same as the running one. Without it, services
// are compared with == when their type is comparable; services of other
// types, such as a child.Func, always count as changed.
type Equaler interface {
	Equal(other child.Service) bool
}

// Config returns the supervisor's current configuration: the one the next
// Serve starts from, and, while serving, the one last applied.
func (s *Supervisor) Config() Config {
	if s == nil {
		return Config{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return Config{Flags: s.opts.flags, Children: slices.Clone(s.specs)}
}

// Apply changes a supervisor's configuration. A new configuration that is
// invalid is rejected whole, and nothing is touched. Otherwise, while the
// supervisor serves, children missing from cfg.Children are stopped in
// reverse start order and deleted, changed ones are stopped, and then, in
// cfg.Children's order, changed and added children are started, each through
// its started handshake; unchanged children keep running. New flags take
// effect at once; a new intensity starts an empty window. Apply returns once
// all of that is done. It also becomes the configuration the next Serve starts
// from. Children added with StartChild are part of the running list, so a cfg
// that omits them removes them. A stop of the supervisor asked for meanwhile
// ends Apply with [ErrStopping]: if it came while children were being
// stopped, the new configuration is not taken; if while they were being
// started, it is, and the Changes say what was done.
func (s *Supervisor) Apply(ctx context.Context, cfg Config) (Changes, error) {
	if s.unbuilt() {
		return Changes{}, ErrNotBuilt
	}
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	o.flags = cfg.Flags
	if o.simple {
		cfg.Children = slices.Clone(cfg.Children)
		for i := range cfg.Children {
			if cfg.Children[i].Service == nil {
				cfg.Children[i].Service = placeholder // as in NewSimple
			}
		}
	}
	if err := o.validate(); err != nil {
		return Changes{}, err
	}
	checked, err := checkSpecs(cfg.Children, &o)
	if err != nil {
		return Changes{}, err
	}
	if err := checkNesting(checked, s); err != nil {
		return Changes{}, err
	}
	if o.simple && len(checked) != 1 {
		return Changes{}, fmt.Errorf("%w: a simple_one_for_one supervisor has exactly one template spec, got %d", ErrInvalidOption, len(checked))
	}
	req := request{op: opApply, apply: &applyReq{specs: checked, opts: o}}
	for {
		// Whether a Serve runs is decided under the lock that begins one, so
		// a Serve cannot begin between the decision and the write.
		s.mu.Lock()
		r := s.cur
		if r == nil {
			// Not serving: the next Serve starts from the new configuration.
			ch := diffSpecs(s.specs, checked)
			ch.Flags = flagsDiffer(s.opts, o)
			s.specs, s.opts = checked, o
			s.mu.Unlock()
			return ch, nil
		}
		s.mu.Unlock()
		resp, err := r.call(ctx, req)
		if err == errRunOver {
			continue // it ended before taking the call: decide again
		}
		changes, _ := resp.val.(Changes)
		return changes, err
	}
}

type applyReq struct {
	specs []child.Spec
	opts  options
}

func flagsDiffer(a, b options) bool { return a.flags != b.flags }

// diffSpecs classifies new against old without starting anything.
func diffSpecs(old, new []child.Spec) Changes {
	var ch Changes
	byID := make(map[string]child.Spec, len(old))
	for _, sp := range old {
		byID[sp.ID] = sp
	}
	kept := make(map[string]bool, len(new))
	for _, sp := range new {
		kept[sp.ID] = true
		prev, ok := byID[sp.ID]
		switch {
		case !ok:
			ch.Added = append(ch.Added, sp.ID)
		case sameSpec(prev, sp):
			ch.Unchanged = append(ch.Unchanged, sp.ID)
		default:
			ch.Changed = append(ch.Changed, sp.ID)
		}
	}
	for i := len(old) - 1; i >= 0; i-- {
		if !kept[old[i].ID] {
			ch.Removed = append(ch.Removed, old[i].ID)
		}
	}
	return ch
}

// sameSpec reports whether two specs with defaults filled in are the same.
func sameSpec(a, b child.Spec) bool {
	as, bs := a.Service, b.Service
	a.Service, b.Service = nil, nil
	return a == b && sameService(as, bs)
}

func sameService(a, b child.Service) bool {
	if eq, ok := b.(Equaler); ok {
		return eq.Equal(a)
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta == nil || !ta.Comparable() {
		return false
	}
	return a == b
}

// apply carries out Apply on the run goroutine. A stop asked for meanwhile
// ends it with ErrStopping: while it stops children, before the new
// configuration is taken (what it stopped stays stopped); while it starts
// them, after (the Changes say what was done).
func (r *run) apply(q *applyReq) (Changes, error) {
	if r.opts.simple {
		// Only the template changes; running instances keep the spec they
		// started with, and new instances get the new one.
		ch := diffSpecs([]child.Spec{r.template}, q.specs)
		ch.Flags = flagsDiffer(r.opts, q.opts)
		r.template = q.specs[0]
		r.setFlags(q)
		return ch, nil
	}
	ch := diffSpecs(r.currentSpecs(), q.specs)
	ch.Flags = flagsDiffer(r.opts, q.opts)

	// Stop what goes away or changes, in reverse start order.
	changed := make(map[string]bool, len(ch.Changed))
	for _, id := range ch.Changed {
		changed[id] = true
	}
	removed := make(map[string]bool, len(ch.Removed))
	for _, id := range ch.Removed {
		removed[id] = true
	}
	current := r.ordered()
	for i := len(current) - 1; i >= 0; i-- {
		e := current[i]
		if removed[e.spec.ID] || changed[e.spec.ID] {
			e.gen, e.parked = e.gen+1, nil // drops a pending restart
			_ = r.stopChild(e)             // an abandoned child is reported by its event
			if r.stopRequested() {
				return Changes{}, ErrStopping
			}
		}
	}

	// Rebuild the list in the new order, then start what is new.
	old := r.byID
	r.children, r.holes, r.byID = make([]*entry, 0, len(q.specs)), 0, make(map[string]*entry, len(q.specs))
	for id, e := range old {
		if removed[id] || changed[id] {
			r.retire(e)
		}
	}
	var toStart []*entry
	for i, sp := range q.specs {
		if e, ok := old[sp.ID]; ok && !changed[sp.ID] {
			e.pos = len(r.children)
			r.children = append(r.children, e)
			r.byID[sp.ID] = e
			continue
		}
		toStart = append(toStart, r.addEntry(&q.specs[i])) // q.specs becomes the Supervisor's, never changed in place
	}
	r.setFlags(q)
	r.dynMu.Lock()
	r.dynSups = nil // every child is in the Supervisor's specs now
	r.dynMu.Unlock()

	for _, e := range toStart {
		err := r.startChild(e)
		switch {
		case err == nil, errors.Is(err, errIgnored):
		case errors.Is(err, ErrStopping):
			return ch, ErrStopping
		default:
			e.state = StateStopped
			ch.Failed = append(ch.Failed, &StartError{Supervisor: r.path, Child: e.spec.ID, Err: err})
		}
	}
	return ch, nil
}

// setFlags takes the new flags and makes the new configuration the one the
// next Serve starts from.
func (r *run) setFlags(q *applyReq) {
	if q.opts.flags.Intensity != r.opts.flags.Intensity {
		r.window = escalation.NewWindow(q.opts.flags.Intensity)
	}
	r.opts.flags = q.opts.flags
	r.s.mu.Lock()
	r.s.specs, r.s.opts = q.specs, q.opts
	r.s.mu.Unlock()
}

func (r *run) currentSpecs() []child.Spec {
	specs := make([]child.Spec, len(r.ordered()))
	for i, e := range r.ordered() {
		specs[i] = *e.spec
	}
	return specs
}
