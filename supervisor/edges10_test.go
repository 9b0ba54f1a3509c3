package supervisor_test

import (
	"errors"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// a2, a9: StartChild rejects a significant spec under auto-shutdown Never, as
// New, CheckSpecs and Apply do, with the same SpecError, and keeps nothing.
func TestStartChildRejectsSignificantUnderNever(t *testing.T) {
	sup := mustNew(t, "root", nil)
	startT(t, sup)
	p := newProbe("s", nil)
	err := sup.StartChild(testCtx(t), significant(p, child.Transient))
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "Significant" || se.ID != "s" {
		t.Fatalf("StartChild(significant) = %v, want a SpecError on Significant", err)
	}
	if !errors.Is(err, child.ErrInvalidSpec) {
		t.Fatalf("StartChild(significant) = %v, want it to match ErrInvalidSpec", err)
	}
	_, newErr := supervisor.New("root", []child.Spec{significant(p, child.Transient)})
	var ne *child.SpecError
	if !errors.As(newErr, &ne) || ne.Error() != se.Error() {
		t.Fatalf("New's error %v and StartChild's %v differ", newErr, err)
	}
	wantStates(t, sup)
	if c, err := sup.CountChildren(testCtx(t)); err != nil || c.Specs != 0 {
		t.Fatalf("CountChildren = %+v, %v, want no spec", c, err)
	}
	if n := p.incarnations(); n != 0 {
		t.Fatalf("the rejected child ran %d times", n)
	}
}
