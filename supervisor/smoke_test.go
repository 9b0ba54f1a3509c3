package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

func TestOneForAllOrder(t *testing.T) {
	j := &journal{}
	a, b, c, d := newControlled("a", j), newControlled("b", j), newControlled("c", j), newControlled("d", j)
	rec := supervisortest.NewRecorder()
	s, err := supervisor.New("root", []child.Spec{spec(a), spec(b), spec(c), spec(d)},
		supervisor.WithStrategy(strategy.OneForAll),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 10, Period: 1e9}),
		supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	startSup(t, s)
	if got, want := j.get(), []string{"start a", "start b", "start c", "start d"}; !slices.Equal(got, want) {
		t.Fatalf("start order %v, want %v", got, want)
	}
	j.reset()
	b.crash(t, errors.New("boom"))
	waitEvent(t, rec, supervisor.ChildStarted, "d", 2)
	if got, want := j.get(), []string{"exit b", "stop d", "stop c", "stop a", "start a", "start b", "start c", "start d"}; !slices.Equal(got, want) {
		t.Fatalf("restart order %v, want %v", got, want)
	}
	j.reset()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, want := j.get(), []string{"stop d", "stop c", "stop b", "stop a"}; !slices.Equal(got, want) {
		t.Fatalf("stop order %v, want %v", got, want)
	}
}
