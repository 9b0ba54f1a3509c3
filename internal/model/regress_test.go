package model_test

import (
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// Sequences TestModel found or that pin a rule at its edge, replayed as
// ordinary tests.

var (
	p, tr, tmp = child.Permanent, child.Transient, child.Temporary
	period     = 5 * time.Second
)

// A temporary child that ended is deleted; its ID can be started again, as a
// new child (see TestIncarnationUniqueAcrossDeleteAndStartChild).
func TestModelStartChildAfterTemporaryExit(t *testing.T) {
	run(t, config{strategy: strategy.OneForOne, intensity: escalation.Intensity{MaxRestarts: 0, Period: period}, children: []child.Restart{tmp}},
		exit("c0", exitNil), startChild("c0", p), exit("c0", exitError))
}

// A restart exactly Period after the one before still counts; a nanosecond
// later it does not.
func TestModelIntensityBoundary(t *testing.T) {
	run(t, config{strategy: strategy.OneForOne, intensity: escalation.Intensity{MaxRestarts: 1, Period: period}, children: []child.Restart{p}},
		exit("c0", exitError), advance(period+time.Nanosecond), exit("c0", exitPanic),
		advance(period), exit("c0", exitGoexit)) // gives up: two restarts within 5 s
}

// one_for_all with a terminated sibling and a temporary bystander: the
// group restart stops the running ones in reverse order, drops the
// temporary one and starts the terminated one again.
func TestModelGroupRestartRevivesAndDrops(t *testing.T) {
	run(t, config{strategy: strategy.OneForAll, intensity: escalation.Intensity{MaxRestarts: 3, Period: period}, children: []child.Restart{p, tmp, tr, p}},
		terminate("c2"), exit("c3", exitShutdown), restartChild("c2"), deleteChild("c1"), exit("c0", exitPanic))
}

// rest_for_one: a transient child's normal exit touches nothing; its
// abnormal exit restarts it and the children after it.
func TestModelRestForOneTransient(t *testing.T) {
	run(t, config{strategy: strategy.RestForOne, intensity: escalation.Intensity{MaxRestarts: 2, Period: period}, children: []child.Restart{p, tr, p}},
		exit("c1", exitShutdown), restartChild("c1"), exit("c1", exitError), startChild("c4", tmp),
		exit("c1", exitGoexit), advance(time.Second), exit("c2", exitNil))
}

// all_significant: the supervisor shuts down once the last significant child
// has ended by itself without a restart; a terminated one counts as ended,
// a crashed transient one is restarted instead.
func TestModelAllSignificant(t *testing.T) {
	run(t, config{strategy: strategy.OneForOne, intensity: escalation.Intensity{MaxRestarts: 2, Period: period},
		children: []child.Restart{tr, tmp, p}, auto: supervisor.AutoShutdownAllSignificant, significant: []bool{true, true, false}},
		exit("c0", exitPanic), terminate("c1"), exit("c2", exitNil), exit("c0", exitShutdown))
}

// any_significant: the first significant exit without a restart shuts the
// supervisor down, and Serve returns nil.
func TestModelAnySignificant(t *testing.T) {
	run(t, config{strategy: strategy.RestForOne, intensity: escalation.Intensity{MaxRestarts: 2, Period: period},
		children: []child.Restart{p, tmp, tr}, auto: supervisor.AutoShutdownAnySignificant, significant: []bool{false, false, true}},
		exit("c1", exitError), exit("c2", exitError), exit("c2", exitNil))
}

// A restart whose start fails is reported and retried as a new restart:
// under one_for_all, the children started in the failed attempt are stopped
// again and the whole group started from the first; the retries spend the
// intensity, and one too many gives up.
func TestModelFailedRestartRetries(t *testing.T) {
	run(t, config{strategy: strategy.OneForAll, intensity: escalation.Intensity{MaxRestarts: 3, Period: period}, children: []child.Restart{p, tr, p}},
		failNextStart("c1"), exit("c2", exitError), // restart, c1 fails, retry
		failNextStart("c0"), restartChild("c0"), // an API start that fails: no event, no retry
		failNextStart("c2"), failNextStart("c1"), exit("c0", exitPanic)) // gives up in the retries
}

// rest_for_one retries from the child that failed to start, not from the
// one whose exit began the restart.
func TestModelRestForOneRetryFromFailingChild(t *testing.T) {
	run(t, config{strategy: strategy.RestForOne, intensity: escalation.Intensity{MaxRestarts: 4, Period: period}, children: []child.Restart{p, p, p}},
		failNextStart("c2"), exit("c0", exitError), startChild("c3", tmp), failNextStart("c3"), exit("c1", exitNil))
}
