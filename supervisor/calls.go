package supervisor

import (
	"errors"
	"fmt"

	"github.com/arborgo/arbor/child"
)

func (r *run) childInfos() []ChildInfo {
	list := r.ordered()
	if r.opts.simple {
		list = r.instanceList()
	}
	infos := make([]ChildInfo, 0, len(list))
	r.termMu.Lock()
	defer r.termMu.Unlock()
	for _, e := range list {
		info := ChildInfo{ID: e.spec.ID, Template: e.template, Path: e.path, Kind: e.spec.Kind, Restart: e.spec.Restart, State: e.state,
			Restarts: e.restarts, Abandoned: e.abandoned, LastExit: e.lastExit, LastExitAt: e.lastAt, LastExitRequested: e.lastRequested}
		if e.inc != nil {
			info.Started = e.inc.started
			info.Term = r.terms[e.inc]
		}
		infos = append(infos, info)
	}
	return infos
}

// handleReq carries out one API call and replies.
func (r *run) handleReq(q *request) {
	var resp response
	switch q.op {
	case opStart:
		resp.err = r.apiStart(q.spec)
	case opTerminate:
		resp.err = r.apiTerminate(q.id, q.handle)
	case opRestart:
		resp.err = r.apiRestart(q.id)
	case opDelete:
		resp.err = r.apiDelete(q.id)
	case opApply:
		resp.val, resp.err = r.apply(q.apply)
	case opChildren:
		resp.val = r.childInfos()
	case opStartInstance:
		resp.id, resp.err = r.apiStartInstance(q)
	case opInfo:
		info := Info{
			Path:      r.path,
			Run:       r.id,
			Template:  r.template.ID,
			Strategy:  r.opts.flags.Strategy,
			Intensity: r.opts.flags.Intensity,
			InWindow:  r.window.Len(r.clock.Now()),
			Children:  r.childInfos(),
		}
		select {
		case <-r.ready:
			info.Ready = true
		default:
		}
		info.Stopping = r.stopRequested()
		resp.val = info
	case opCount:
		if r.opts.simple {
			resp.val = r.countInstances()
			break
		}
		counts := Counts{Specs: len(r.ordered())}
		for _, e := range r.ordered() {
			if e.inc != nil && e.state == StateRunning {
				counts.Active++
			}
			if e.spec.Kind == child.KindSupervisor {
				counts.Supervisors++
			} else {
				counts.Workers++
			}
		}
		resp.val = counts
	case opSpec:
		if e := r.byID[q.id]; e != nil {
			resp.val = *e.spec
		} else {
			resp.err = fmt.Errorf("%w: %q", ErrNotFound, q.id)
		}
	}
	q.reply <- resp
}

func (r *run) apiStart(sp child.Spec) error {
	if r.opts.simple {
		return fmt.Errorf("%w: use StartChild of the Simple supervisor", errSimpleOneForOne)
	}
	if err := checkSignificant(sp, r.opts.flags.AutoShutdown); err != nil {
		return err
	}
	if e := r.byID[sp.ID]; e != nil {
		if e.inc != nil {
			return fmt.Errorf("%w: %q", ErrAlreadyStarted, sp.ID)
		}
		return fmt.Errorf("%w: %q", ErrAlreadyPresent, sp.ID)
	}
	e := r.addOwnEntry(sp)
	if sub, ok := sp.Service.(subtree); ok {
		r.dynMu.Lock()
		if r.dynSups == nil {
			r.dynSups = make(map[string]subtree)
		}
		r.dynSups[sp.ID] = sub
		r.dynMu.Unlock()
	}
	err := r.startChild(e)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errIgnored):
		if sp.Restart == child.Temporary {
			r.remove(e)
		}
		return nil
	default:
		r.remove(e)
		return &StartError{Supervisor: r.path, Child: sp.ID, Err: err}
	}
}

func (r *run) apiTerminate(id string, handle bool) error {
	if r.opts.simple != handle {
		if handle {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return fmt.Errorf("%w: terminate instances by their Handle", errSimpleOneForOne)
	}
	if handle {
		return r.terminateInstance(id)
	}
	e := r.byID[id]
	if e == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	e.gen, e.parked = e.gen+1, nil // drops a pending restart
	err := r.stopChild(e)
	e.state = StateStopped
	if e.spec.Restart == child.Temporary {
		r.remove(e)
	}
	return err
}

// notRunning returns the child with that ID if RestartChild and DeleteChild
// may act on it: it exists and is neither running nor restarting.
func (r *run) notRunning(id string) (*entry, error) {
	if r.opts.simple {
		return nil, errSimpleOneForOne
	}
	e := r.byID[id]
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	case e.inc != nil:
		return nil, fmt.Errorf("%w: %q", ErrRunning, id)
	case e.state == StateRestarting:
		return nil, fmt.Errorf("%w: %q", ErrRestarting, id)
	}
	return e, nil
}

func (r *run) apiRestart(id string) error {
	e, err := r.notRunning(id)
	if err != nil {
		return err
	}
	err = r.startChild(e)
	if err == nil || errors.Is(err, errIgnored) {
		return nil
	}
	e.state = StateStopped
	return &StartError{Supervisor: r.path, Child: id, Err: err}
}

func (r *run) apiDelete(id string) error {
	e, err := r.notRunning(id)
	if err != nil {
		return err
	}
	r.remove(e)
	return nil
}

// dynamicSupervisor returns the supervisor service of a child added with
// StartChild; it is called from outside the run goroutine.
func (r *run) dynamicSupervisor(id string) subtree {
	r.dynMu.Lock()
	defer r.dynMu.Unlock()
	return r.dynSups[id]
}
