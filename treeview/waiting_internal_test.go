package treeview

import (
	"testing"

	"github.com/arborgo/arbor/supervisor"
)

// A stopping child counts its own goroutines and its descendants', and
// nothing of a sibling whose path merely starts with its own.
func TestMarkWaitingCountsSubtree(t *testing.T) {
	x := &Node{Path: "root/a/x", State: "stopping"}
	a := &Node{Path: "root/a", State: "stopping", Children: []*Node{x}}
	ab := &Node{Path: "root/ab", State: "running"}
	root := &Node{Path: "root", State: "stopping", Children: []*Node{a, ab}}
	markWaiting(root, map[string]supervisor.Goroutines{
		"root/a":     {Count: 1},
		"root/a/x":   {Count: 2},
		"root/a/x/y": {Count: 4},
		"root/ab":    {Count: 8},
	})
	if !a.Waiting || a.Goroutines != 7 {
		t.Errorf("a: waiting %v, goroutines %d; want true, 7", a.Waiting, a.Goroutines)
	}
	if !x.Waiting || x.Goroutines != 6 {
		t.Errorf("x: waiting %v, goroutines %d; want true, 6", x.Waiting, x.Goroutines)
	}
	if ab.Waiting || ab.Goroutines != 0 {
		t.Errorf("ab: waiting %v, goroutines %d; want false, 0", ab.Waiting, ab.Goroutines)
	}
}

// A leading singleton's term is on its node; another child has none.
func TestChildNodeTerm(t *testing.T) {
	term := &supervisor.Term{Name: "billing", Key: "/arbor/singletons/billing/1f", Revision: 42}
	if got := childNode(supervisor.ChildInfo{ID: "b", Term: term}).Term; got != "billing /arbor/singletons/billing/1f@42" {
		t.Errorf("leading: Term = %q", got)
	}
	if got := childNode(supervisor.ChildInfo{ID: "c"}).Term; got != "" {
		t.Errorf("other child: Term = %q; want none", got)
	}
}
