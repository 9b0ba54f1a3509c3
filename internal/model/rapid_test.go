package model_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

var (
	restartTypes = []child.Restart{child.Permanent, child.Transient, child.Temporary}
	strategies   = []strategy.Strategy{strategy.OneForOne, strategy.OneForAll, strategy.RestForOne}
	// never is drawn as often as the two others together.
	autoShutdowns = []supervisor.AutoShutdown{supervisor.AutoShutdownNever, supervisor.AutoShutdownNever,
		supervisor.AutoShutdownAnySignificant, supervisor.AutoShutdownAllSignificant}
	// Steps of the clock around the 5 s period: a restart exactly Period
	// old still counts, one a nanosecond older does not.
	advances = []time.Duration{time.Nanosecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 6 * time.Second}
	// IDs for the API calls: the static children's and two more.
	callIDs = []string{"c0", "c1", "c2", "c3", "c4", "c5"}
)

func drawConfig(t *rapid.T) config {
	cfg := config{
		strategy:  rapid.SampledFrom(strategies).Draw(t, "strategy"),
		intensity: escalation.Intensity{MaxRestarts: rapid.IntRange(0, 4).Draw(t, "max_restarts"), Period: 5 * time.Second},
		children:  rapid.SliceOfN(rapid.SampledFrom(restartTypes), 1, 4).Draw(t, "children"),
		auto:      rapid.SampledFrom(autoShutdowns).Draw(t, "auto_shutdown"),
	}
	if cfg.auto != supervisor.AutoShutdownNever {
		for _, r := range cfg.children {
			// Only transient and temporary children may be significant.
			cfg.significant = append(cfg.significant, r != child.Permanent && rapid.Bool().Draw(t, "significant"))
		}
	}
	return cfg
}

// drawAction draws a step; exits are drawn among the children the model
// runs, so that most of them happen.
func drawAction(t *rapid.T, m *model) action {
	var running []string
	for _, c := range m.children {
		if c.running {
			running = append(running, c.id)
		}
	}
	switch r := rapid.IntRange(0, 10).Draw(t, "op"); {
	case r < 4 && len(running) > 0:
		return action{op: opExit, id: rapid.SampledFrom(running).Draw(t, "id"), exit: exitKind(rapid.IntRange(0, int(numExits)-1).Draw(t, "exit"))}
	case r < 6:
		return action{op: opAdvance, d: rapid.SampledFrom(advances).Draw(t, "d")}
	case r == 6:
		return action{op: opTerminate, id: rapid.SampledFrom(callIDs).Draw(t, "id")}
	case r == 7:
		return action{op: opRestart, id: rapid.SampledFrom(callIDs).Draw(t, "id")}
	case r == 8:
		return action{op: opDelete, id: rapid.SampledFrom(callIDs).Draw(t, "id")}
	case r == 9:
		return action{op: opStart, id: rapid.SampledFrom(callIDs).Draw(t, "id"), restart: rapid.SampledFrom(restartTypes).Draw(t, "restart")}
	default:
		return action{op: opFailStart, id: rapid.SampledFrom(callIDs).Draw(t, "id")}
	}
}

// TestModel runs random sequences of child exits (of every kind), API calls
// and clock advances against a real supervisor and against the model, and
// compares the events, the children, the intensity window, the live
// incarnations, and when and why the supervisor gives up.
// -rapid.checks sets how many sequences; -rapid.seed replays one.
func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawConfig(t)
		h := newHarness(t, cfg)
		defer h.close()
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for range steps {
			if h.m.done {
				break
			}
			h.do(drawAction(t, h.m))
		}
		h.finish()
	})
}

// run replays a fixed sequence: how a shrunk failure becomes an ordinary
// test.
func run(t *testing.T, cfg config, actions ...action) {
	t.Helper()
	h := newHarness(t, cfg)
	defer h.close()
	for _, a := range actions {
		h.do(a)
	}
	h.finish()
}

func exit(id string, k exitKind) action { return action{op: opExit, id: id, exit: k} }
func advance(d time.Duration) action    { return action{op: opAdvance, d: d} }
func terminate(id string) action        { return action{op: opTerminate, id: id} }
func restartChild(id string) action     { return action{op: opRestart, id: id} }
func deleteChild(id string) action      { return action{op: opDelete, id: id} }
func startChild(id string, r child.Restart) action {
	return action{op: opStart, id: id, restart: r}
}

func failNextStart(id string) action { return action{op: opFailStart, id: id} }
