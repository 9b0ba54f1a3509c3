package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Bad input gets an error that names the problem, never a panic:
// arbitrary spec lists and options through CheckSpecs and New.
func FuzzCheckSpecs(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, int64(-3), uint8(4), true)
	f.Add([]byte("aab"), int64(0), uint8(0), false)
	f.Add([]byte{}, int64(5e9), uint8(1), true)
	svc := child.Func(func(context.Context) error { return nil })
	f.Fuzz(func(t *testing.T, ids []byte, shutdown int64, restart uint8, significant bool) {
		var specs []child.Spec
		for i, b := range ids {
			sp := child.Spec{
				ID:           string(rune('a' + b%4)),
				Restart:      child.Restart(restart % 5),
				Shutdown:     time.Duration(shutdown) + time.Duration(i),
				StartTimeout: time.Duration(-int64(b % 3)),
				Kind:         child.Kind(b % 3),
				Significant:  significant && b%2 == 0,
			}
			if b%7 != 0 {
				sp.Service = svc
			}
			specs = append(specs, sp)
		}
		err := supervisor.CheckSpecs(specs, supervisor.WithAutoShutdown(supervisor.AutoShutdown(restart%4)))
		if err != nil && !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) {
			t.Fatalf("CheckSpecs error %v matches neither ErrInvalidSpec nor ErrDuplicateID", err)
		}
		_, err = supervisor.New("root", specs, supervisor.WithAutoShutdown(supervisor.AutoShutdown(restart%4)))
		if err != nil && !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) && !errors.Is(err, supervisor.ErrInvalidOption) {
			t.Fatalf("New error %v names no known problem", err)
		}
	})
}

// fuzzSvc is a comparable service, so Apply sees an unchanged one as
// unchanged; it reports ready, so it starts as a worker or as a supervisor.
type fuzzSvc struct{ name string }

func (s fuzzSvc) Serve(ctx context.Context) error {
	child.Ready(ctx)
	<-ctx.Done()
	return nil
}

// fuzzConfig builds a Config from fuzz input: flags and children of every
// value, valid or not, with duplicate IDs, nil services, changed services.
func fuzzConfig(strat uint8, maxRestarts int8, period int64, auto uint8, kids []byte) supervisor.Config {
	cfg := supervisor.Config{Flags: supervisor.Flags{
		Strategy:     strategy.Strategy(strat % 6),
		Intensity:    escalation.Intensity{MaxRestarts: int(maxRestarts), Period: time.Duration(period)},
		AutoShutdown: supervisor.AutoShutdown(auto % 4),
	}}
	for _, b := range kids {
		id := string(rune('a' + b%4))
		sp := child.Spec{
			ID:          id,
			Restart:     child.Restart(b >> 2 % 4),
			Kind:        child.Kind(b >> 4 % 3),
			Shutdown:    []time.Duration{0, child.Infinity, child.BrutalKill, 10 * time.Millisecond}[b>>5%4],
			Significant: b&0x80 != 0,
			AwaitReady:  b&0x40 != 0,
		}
		if b%13 != 0 {
			name := id
			if b%2 == 1 {
				name += "'"
			}
			sp.Service = fuzzSvc{name}
		}
		cfg.Children = append(cfg.Children, sp)
	}
	return cfg
}

func ids(specs []child.Spec) []string {
	var out []string
	for _, sp := range specs {
		out = append(out, sp.ID)
	}
	return out
}

// Apply takes any configuration on a running supervisor: it rejects a bad
// one whole with an error that names the problem, touching nothing, and
// otherwise leaves exactly the configured children, in order, with Changes
// that account for each of them.
func FuzzApply(f *testing.F) {
	f.Add(uint8(0), int8(1), int64(5e9), uint8(0), []byte{0, 1, 2})
	f.Add(uint8(1), int8(3), int64(1e9), uint8(1), []byte{0, 1 | 0x80 | 8, 3})
	f.Add(uint8(2), int8(-1), int64(0), uint8(2), []byte{1, 1})
	f.Add(uint8(3), int8(0), int64(1), uint8(3), []byte{13, 0x10})
	f.Add(uint8(4), int8(5), int64(-5), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, strat uint8, maxRestarts int8, period int64, auto uint8, kids []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cfg := fuzzConfig(strat, maxRestarts, period, auto, kids)
		if strat&0x80 != 0 {
			fuzzSimpleApply(ctx, t, cfg)
			return
		}
		sup, err := supervisor.New("root", []child.Spec{
			{ID: "a", Service: fuzzSvc{"a"}},
			{ID: "b", Service: fuzzSvc{"b"}, AwaitReady: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sup.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			// A 10 ms budget may be overrun on a loaded machine: only an
			// abandonment is allowed.
			if err := sup.Stop(ctx); err != nil && !errors.Is(err, supervisor.ErrStopTimeout) {
				t.Errorf("Stop: %v", err)
			}
		}()
		before := sup.Config()
		ch, err := sup.Apply(ctx, cfg)
		infos, kerr := sup.Children(ctx)
		if kerr != nil {
			t.Fatalf("Children: %v", kerr)
		}
		var running []string
		for _, k := range infos {
			running = append(running, k.ID)
		}
		if err != nil {
			if !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) && !errors.Is(err, supervisor.ErrInvalidOption) {
				t.Fatalf("Apply error %v names no known problem", err)
			}
			if after := sup.Config(); after.Flags != before.Flags || !slices.Equal(ids(after.Children), ids(before.Children)) {
				t.Fatalf("a rejected Apply changed the configuration: %+v", after)
			}
			if !slices.Equal(running, ids(before.Children)) {
				t.Fatalf("a rejected Apply changed the children: %v", running)
			}
			return
		}
		want := ids(cfg.Children)
		if got := ids(sup.Config().Children); !slices.Equal(got, want) {
			t.Fatalf("Config after Apply: %v, want %v", got, want)
		}
		if !slices.Equal(running, want) {
			t.Fatalf("children after Apply: %v, want %v", running, want)
		}
		accounted := slices.Concat(ch.Added, ch.Changed, ch.Unchanged)
		slices.Sort(accounted)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(accounted, sorted) {
			t.Fatalf("Changes %+v do not account for %v", ch, want)
		}
		for _, id := range ch.Removed {
			if slices.Contains(want, id) || !slices.Contains(ids(before.Children), id) {
				t.Fatalf("Changes.Removed %v: %s was not removed", ch.Removed, id)
			}
		}
		if len(ch.Failed) > 0 {
			t.Fatalf("Apply: starts failed: %v", ch.Failed)
		}
	})
}

// fuzzSimpleApply applies cfg to a running simple_one_for_one supervisor,
// which takes exactly one child spec with no service.
func fuzzSimpleApply(ctx context.Context, t *testing.T, cfg supervisor.Config) {
	pool, err := supervisor.NewSimple("pool", child.Spec{ID: "w"}, func(ctx context.Context, _ int) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pool.Stop(ctx) }()
	if _, err := pool.StartChild(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Children {
		if cfg.Children[i].ID == "b" {
			cfg.Children[i].Service = nil // a template, as Simple.Apply wants
		}
	}
	before := pool.Config()
	if _, err := pool.Apply(ctx, cfg); err != nil {
		if !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) && !errors.Is(err, supervisor.ErrInvalidOption) {
			t.Fatalf("Simple.Apply error %v names no known problem", err)
		}
		if after := pool.Config(); after.Flags != before.Flags || !slices.Equal(ids(after.Children), ids(before.Children)) {
			t.Fatalf("a rejected Simple.Apply changed the configuration: %+v", after)
		}
		return
	}
	if got := pool.Config(); len(got.Children) != 1 || got.Children[0].ID != cfg.Children[0].ID {
		t.Fatalf("Simple.Apply took %v: %+v", ids(cfg.Children), got)
	}
	if n, err := pool.CountChildren(ctx); err != nil || n.Active != 1 {
		t.Fatalf("after Simple.Apply: %+v, %v; the running instance keeps running", n, err)
	}
}
