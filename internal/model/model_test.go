package model_test

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// This file is the model: OTP's rules for one supervisor, as a pure state
// machine with no goroutines, no clock and no supervisor code. It says, for
// every step, what the supervisor must report (a list of events, projected
// onto what the rules decide), which children run, with which incarnation and
// restart count, what each API call returns, and when the supervisor gives
// up. The harness (harness_test.go) runs the same steps against a real
// supervisor and compares.

// exitKind is how a child's incarnation ends by itself.
type exitKind uint8

const (
	exitNil      exitKind = iota // returns nil: normal
	exitShutdown                 // returns child.Shutdownf(...): normal
	exitError                    // returns an error: abnormal
	exitPanic                    // panics: abnormal
	exitGoexit                   // calls runtime.Goexit: abnormal
	numExits
)

func (k exitKind) String() string {
	return [...]string{"nil", "shutdown", "error", "panic", "goexit"}[k]
}

func (k exitKind) normal() bool { return k == exitNil || k == exitShutdown }

// opKind is one step of a sequence.
type opKind uint8

const (
	opExit      opKind = iota // the running incarnation of id exits by itself with exit
	opTerminate               // TerminateChild(id)
	opRestart                 // RestartChild(id)
	opDelete                  // DeleteChild(id)
	opStart                   // StartChild of a new spec id with restart type restart
	opAdvance                 // the clock moves by d
	opFailStart               // the next start of id fails: it returns an error before it is ready
	numOps
)

// action is one step. A step that names a child that cannot take it (an exit
// of a child that is not running) does nothing, so that a shrunk or
// hand-written sequence stays valid whatever came before it.
type action struct {
	op      opKind
	id      string
	exit    exitKind
	restart child.Restart
	d       time.Duration
}

func (a action) String() string {
	switch a.op {
	case opExit:
		return fmt.Sprintf("exit(%s, %s)", a.id, a.exit)
	case opTerminate:
		return fmt.Sprintf("TerminateChild(%s)", a.id)
	case opRestart:
		return fmt.Sprintf("RestartChild(%s)", a.id)
	case opDelete:
		return fmt.Sprintf("DeleteChild(%s)", a.id)
	case opStart:
		return fmt.Sprintf("StartChild(%s, %s)", a.id, a.restart)
	case opAdvance:
		return fmt.Sprintf("advance(%v)", a.d)
	case opFailStart:
		return fmt.Sprintf("failNextStart(%s)", a.id)
	}
	return "?"
}

// config is the supervisor a sequence runs against: its flags and its
// static children, named c0, c1, ... in start order.
type config struct {
	strategy  strategy.Strategy
	intensity escalation.Intensity
	children  []child.Restart
	// auto is the auto-shutdown setting; significant marks static children
	// (by index) as significant.
	auto        supervisor.AutoShutdown
	significant []bool
}

func (c config) String() string {
	return fmt.Sprintf("%s, intensity %d in %v, children %v, auto_shutdown %s, significant %v",
		c.strategy, c.intensity.MaxRestarts, c.intensity.Period, c.children, c.auto, c.significant)
}

func (c config) isSignificant(i int) bool { return i < len(c.significant) && c.significant[i] }

// projected is an event reduced to what the rules decide: its kind, its
// child, which incarnation, and for ChildExited whether a restart follows.
type projected struct {
	kind      supervisor.EventKind
	child     string
	inc       uint64
	restarted bool
}

func (p projected) String() string {
	s := p.kind.String()
	if p.child != "" {
		s += fmt.Sprintf(" %s#%d", p.child, p.inc)
	}
	if p.kind == supervisor.ChildExited {
		s += fmt.Sprintf(" restarted=%v", p.restarted)
	}
	return s
}

// project reduces a real event. The incarnation is kept only for the kinds
// that are about one incarnation.
func project(ev supervisor.Event) projected {
	p := projected{kind: ev.Kind, child: ev.Child}
	switch ev.Kind {
	case supervisor.ChildStarted, supervisor.ChildExited, supervisor.ChildStopped, supervisor.ChildStartFailed, supervisor.ChildAbandoned, supervisor.AbandonedReturned:
		p.inc = ev.Incarnation
	}
	if ev.Kind == supervisor.ChildExited {
		p.restarted = ev.Restarted
	}
	return p
}

// mchild is a child as the model sees it.
type mchild struct {
	id          string
	restart     child.Restart
	significant bool
	running     bool
	inc         uint64 // the running (or last) incarnation
	restarts    int    // ChildInfo.Restarts: automatic restarts in this run
}

// model is one supervisor's state under OTP's rules.
type model struct {
	cfg      config
	now      time.Time
	window   []time.Time // restarts recorded, oldest first
	children []*mchild   // start order
	incs     map[string]uint64
	failNext map[string]bool // children whose next start fails
	events   []projected
	gaveUp   string // the child whose exit made the supervisor give up
	autoStop string // the significant child whose exit shut the supervisor down
	done     bool   // the supervisor's Serve has returned
}

func newModel(cfg config, now time.Time) *model {
	m := &model{cfg: cfg, now: now, incs: map[string]uint64{}, failNext: map[string]bool{}}
	for i, r := range cfg.children {
		m.children = append(m.children, &mchild{id: fmt.Sprintf("c%d", i), restart: r, significant: cfg.isSignificant(i)})
	}
	for _, c := range m.children {
		m.launch(c)
	}
	m.emit(supervisor.SupervisorReady, nil)
	return m
}

func (m *model) emit(k supervisor.EventKind, c *mchild) {
	p := projected{kind: k}
	if c != nil {
		p.child = c.id
		switch k {
		case supervisor.ChildStarted, supervisor.ChildStopped, supervisor.ChildStartFailed:
			p.inc = c.inc
		}
	}
	m.events = append(m.events, p)
}

func (m *model) find(id string) *mchild {
	for _, c := range m.children {
		if c.id == id {
			return c
		}
	}
	return nil
}

// remove deletes c's spec. Its incarnation count stays: an ID started again
// after it was deleted goes on counting in the same run, so Event.Incarnation
// names one call of Serve (TestIncarnationUniqueAcrossDeleteAndStartChild).
func (m *model) remove(c *mchild) {
	m.children = slices.DeleteFunc(m.children, func(x *mchild) bool { return x == c })
}

// launch starts a new incarnation, numbered from 1 for each ID in a run, and
// reports whether it started; a failed start is reported by the caller.
func (m *model) launch(c *mchild) bool {
	m.incs[c.id]++
	c.inc = m.incs[c.id]
	if m.failNext[c.id] {
		delete(m.failNext, c.id)
		return false
	}
	c.running = true
	m.emit(supervisor.ChildStarted, c)
	return true
}

func (m *model) stop(c *mchild) {
	m.emit(supervisor.ChildStopped, c)
	c.running = false
}

// record adds a restart at now to the window and reports whether it stays
// within the intensity: a restart exactly Period old still counts.
func (m *model) record() bool {
	m.window = slices.DeleteFunc(m.window, func(t time.Time) bool { return m.now.Sub(t) > m.cfg.intensity.Period })
	m.window = append(m.window, m.now)
	return len(m.window) <= m.cfg.intensity.MaxRestarts
}

// inWindow is Info.InWindow.
func (m *model) inWindow() int {
	n := 0
	for _, t := range m.window {
		if m.now.Sub(t) <= m.cfg.intensity.Period {
			n++
		}
	}
	return n
}

// significantEnded reports whether a significant child's exit, not
// restarted, shuts the supervisor down: always under any_significant; under
// all_significant, once no significant child runs.
func (m *model) significantEnded() bool {
	switch m.cfg.auto {
	case supervisor.AutoShutdownAnySignificant:
		return true
	case supervisor.AutoShutdownAllSignificant:
		for _, c := range m.children {
			if c.significant && c.running {
				return false
			}
		}
		return true
	}
	return false
}

// exit applies the restart matrix, the intensity and the strategy to an exit
// of c's running incarnation.
func (m *model) exit(c *mchild, k exitKind) {
	wanted := c.restart.ShouldRestart(k.normal())
	c.running = false
	// Restarted says whether a restart follows: not when this one would
	// exceed the intensity (the supervisor gives up instead).
	m.events = append(m.events, projected{kind: supervisor.ChildExited, child: c.id, inc: c.inc, restarted: wanted && m.inWindow()+1 <= m.cfg.intensity.MaxRestarts})
	if !wanted {
		shut := c.significant && m.significantEnded()
		if shut {
			m.emit(supervisor.AutoShutdownTriggered, c)
		}
		if c.restart == child.Temporary {
			m.remove(c)
		}
		if shut {
			m.autoStop = c.id
			m.stopAll()
		}
		return
	}
	m.restart(c)
}

// restart counts a restart of c (after its exit, or a retry after its failed
// start), gives up past the intensity, and otherwise applies the strategy
// from c: the group's running siblings are stopped in reverse order,
// temporary ones dropped, and the group started in order. A start that fails
// is reported (ChildStartFailed) and retried as a new restart from that
// child.
func (m *model) restart(c *mchild) {
	if !m.record() {
		m.emit(supervisor.IntensityExceeded, c)
		for _, x := range slices.Backward(m.children) {
			if x.running {
				m.stop(x)
			}
		}
		m.emit(supervisor.SupervisorStopped, nil)
		m.gaveUp, m.done = c.id, true
		return
	}
	i := slices.Index(m.children, c)
	var group []*mchild
	switch m.cfg.strategy {
	case strategy.OneForAll:
		group = slices.Clone(m.children)
	case strategy.RestForOne:
		group = slices.Clone(m.children[i:])
	default:
		group = []*mchild{c}
	}
	for _, g := range slices.Backward(group) {
		if g != c && g.running {
			m.stop(g)
		}
	}
	group = slices.DeleteFunc(group, func(g *mchild) bool {
		if g != c && g.restart == child.Temporary {
			m.remove(g) // a temporary bystander is dropped, not restarted
			return true
		}
		return false
	})
	for _, g := range group {
		if g.running {
			continue
		}
		if !m.launch(g) {
			m.emit(supervisor.ChildStartFailed, g)
			m.restart(g)
			return
		}
		g.restarts++
	}
}

func (m *model) terminate(id string) error {
	c := m.find(id)
	if c == nil {
		return supervisor.ErrNotFound
	}
	if c.running {
		m.stop(c)
	}
	if c.restart == child.Temporary {
		m.remove(c)
	}
	return nil
}

func (m *model) restartChild(id string) error {
	c := m.find(id)
	switch {
	case c == nil:
		return supervisor.ErrNotFound
	case c.running:
		return supervisor.ErrRunning
	}
	if !m.launch(c) {
		return supervisor.ErrStartFailed // no event: the call returns it
	}
	return nil
}

func (m *model) deleteChild(id string) error {
	c := m.find(id)
	switch {
	case c == nil:
		return supervisor.ErrNotFound
	case c.running:
		return supervisor.ErrRunning
	}
	m.remove(c)
	return nil
}

func (m *model) startChild(id string, r child.Restart) error {
	if c := m.find(id); c != nil {
		if c.running {
			return supervisor.ErrAlreadyStarted
		}
		return supervisor.ErrAlreadyPresent
	}
	c := &mchild{id: id, restart: r}
	m.children = append(m.children, c)
	if !m.launch(c) {
		m.remove(c) // nothing is kept, and no event: the call returns it
		return supervisor.ErrStartFailed
	}
	return nil
}

// stopAll is Stop: the running children in reverse start order.
func (m *model) stopAll() {
	for _, c := range slices.Backward(m.children) {
		if c.running {
			m.stop(c)
		}
	}
	m.emit(supervisor.SupervisorStopped, nil)
	m.done = true
}

// sameErr compares a call's result with the model's: both nil, or the
// real one matching the model's sentinel.
func sameErr(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}
