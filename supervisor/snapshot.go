package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// Info is a point-in-time view of one supervisor.
type Info struct {
	Path string // such as "root/db"
	// Run identifies the Serve that answered: 1 for the supervisor's first
	// Serve, counting up (see Event.Run).
	Run       uint64
	Strategy  strategy.Strategy    // its restart strategy
	Template  string               // simple_one_for_one: its template's ID; empty otherwise
	Intensity escalation.Intensity // its restart limit
	InWindow  int                  // restarts inside the current intensity window
	Ready     bool                 // every child has started
	Stopping  bool                 // a shutdown is under way
	Children  []ChildInfo          // start order
}

// Info returns a view of the supervisor and its children, asked of its run
// goroutine, so it also proves that the supervisor is answering.
func (s *Supervisor) Info(ctx context.Context) (Info, error) {
	resp, err := s.call(ctx, request{op: opInfo})
	info, _ := resp.val.(Info)
	return info, err
}

// subtree is a child's service that is a supervisor itself and can describe
// its tree: *Supervisor and *Simple.
type subtree interface {
	Tree(ctx context.Context) (*Tree, error)
}

// Tree is a view of a whole supervision tree: a supervisor, and the trees of
// its children that are supervisors themselves.
type Tree struct {
	Info
	// Subtrees holds, by child ID, the trees of running children whose service
	// is a supervisor: a *Supervisor or a *Simple.
	Subtrees map[string]*Tree
}

// Tree returns a recursive view of the supervisor and every nested
// supervisor whose incarnation is running. Each supervisor answers for itself,
// so the view is consistent per supervisor, not across the tree.
func (s *Supervisor) Tree(ctx context.Context) (*Tree, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	t := &Tree{Info: info}
	for _, c := range info.Children {
		sub := s.nested(c.ID)
		if sub == nil || c.State != StateRunning {
			continue
		}
		st, err := sub.Tree(ctx)
		if errors.Is(err, ErrNotRunning) {
			continue // it stopped meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("supervisor %s: subtree %s: %w", info.Path, c.Path, err)
		}
		if t.Subtrees == nil {
			t.Subtrees = make(map[string]*Tree)
		}
		t.Subtrees[c.ID] = st
	}
	return t, nil
}

// nested returns the *Supervisor behind the child with that ID, if any.
// Dynamic children are looked up in the current run's specs too.
func (s *Supervisor) nested(id string) subtree {
	s.mu.Lock()
	r := s.cur
	for _, sp := range s.specs {
		if sp.ID == id {
			s.mu.Unlock()
			sub, _ := sp.Service.(subtree)
			return sub
		}
	}
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.dynamicSupervisor(id)
}
