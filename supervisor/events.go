package supervisor

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/enum"
)

// EventKind says what happened. Each kind maps to one OTP report context.
type EventKind uint8

const (
	// ChildStarted: a child started (and, if awaited, reported ready). OTP's
	// progress report, context "started".
	ChildStarted EventKind = iota
	// ChildIgnored: a child declined to start by returning child.ErrIgnore.
	ChildIgnored
	// ChildStartFailed: a start failed, during init or a restart. Context "start_error".
	ChildStartFailed
	// ChildExited: a child ended by itself; Restarted says whether a restart
	// follows (not when a stop is pending or the restart would exceed the
	// intensity). Context "child_terminated" when it is restarted, abnormal,
	// or permanent; Err is its reason.
	ChildExited
	// ChildStopped: the supervisor stopped a child and it returned in time.
	// If it had already crashed, or panicked while stopping, context
	// "shutdown_error" with Err set.
	ChildStopped
	// ChildAbandoned: a child overran its shutdown budget and was abandoned.
	// Context "shutdown_error"; Err is a [*StopTimeoutError]. For a child
	// whose Shutdown is child.BrutalKill, abandonment is expected: Err is nil
	// and there is no report context.
	ChildAbandoned
	// AbandonedReturned: an abandoned incarnation finally returned.
	AbandonedReturned
	// RestartScheduled: a restart waits for a backoff delay (Delay).
	RestartScheduled
	// IntensityExceeded: the supervisor gives up. Context
	// "reached_max_restart_intensity" (OTP logs it as context "shutdown" with
	// that reason); Err is the last exit reason it could not absorb.
	IntensityExceeded
	// AutoShutdownTriggered: a significant child's exit shuts the supervisor down
	// (auto-shutdown); Child and Err are that child and its reason.
	AutoShutdownTriggered
	// SupervisorReady: every child has started.
	SupervisorReady
	// SupervisorStopped: Serve is returning; Err is what it returns.
	SupervisorStopped
	// ChildLeaked: under [WithLeakCheck], an incarnation that returned left
	// goroutines running; Err is a [*LeakError] with their stacks. No OTP
	// counterpart (a process's links die with it).
	ChildLeaked
	// LeadershipAcquired: a cluster singleton child (package cluster) won
	// its name's term on this node and is about to start its service; Term
	// holds the name and the fencing token. OTP logs a distributed
	// application's takeover as a progress report; arbor reports every term.
	LeadershipAcquired
	// LeadershipLost: a singleton's term ended because its lease was lost or
	// taken over; its service has returned. It is reported then, before the
	// lease is released (a release through a broken connection can take a
	// while, and another node may be promoted meanwhile). The candidate
	// campaigns again.
	LeadershipLost
	// LeadershipReleased: a singleton let its term go by its own choice (a
	// hand-off when it is stopped, or its service's own exit), after its
	// service returned; Err is what releasing the lease returned.
	LeadershipReleased
)

var kindNames = [...]string{
	ChildStarted:          "child_started",
	ChildIgnored:          "child_ignored",
	ChildStartFailed:      "child_start_failed",
	ChildExited:           "child_exited",
	ChildStopped:          "child_stopped",
	ChildAbandoned:        "child_abandoned",
	AbandonedReturned:     "abandoned_returned",
	RestartScheduled:      "restart_scheduled",
	IntensityExceeded:     "intensity_exceeded",
	AutoShutdownTriggered: "auto_shutdown",
	SupervisorReady:       "supervisor_ready",
	SupervisorStopped:     "supervisor_stopped",
	ChildLeaked:           "child_leaked",
	LeadershipAcquired:    "leadership_acquired",
	LeadershipLost:        "leadership_lost",
	LeadershipReleased:    "leadership_released",
}

var kindText = enum.Text[EventKind]{Type: "EventKind", Names: kindNames[:], Invalid: enum.Errorf("supervisor: unknown event kind")}

// String returns the kind's snake_case name, such as "child_exited".
func (k EventKind) String() string { return kindText.String(k) }

// MarshalText encodes k as its name. An unknown value is an error.
func (k EventKind) MarshalText() ([]byte, error) { return kindText.Marshal(k) }

// UnmarshalText parses an event kind name, such as "child_exited".
func (k *EventKind) UnmarshalText(text []byte) error { return kindText.Unmarshal(text, k) }

// Event is a typed supervisor report, delivered to hooks and logged.
type Event struct {
	Kind       EventKind
	Time       time.Time // from the supervisor's clock
	Supervisor string    // the supervisor's path, such as "root/db"
	// Run identifies the supervisor's Serve that reports the event, as
	// [Info.Run] does: 1 for its first Serve, counting up. A nested
	// supervisor restarted by its parent reports under a new Run.
	Run   uint64
	Child string // the child's ID; empty for supervisor events
	// Template is, for an instance of a simple_one_for_one supervisor, the
	// ID of the template it was started from (Child is the instance's own
	// ID, such as "conn#42"); empty for other children. Metrics label
	// instances by it, so that their series do not grow with every instance.
	Template string
	// Incarnation numbers the child's incarnation the event is about: 1 for
	// its first start in this Run, counting up with every start (restarts,
	// RestartChild, a group restart). With Run and Child it names one call
	// of the child's Serve, so its start, exit, stop or abandonment and
	// return can be matched. 0 for supervisor events.
	Incarnation uint64
	Restart     child.Restart // the child's restart type
	Err         error         // exit or failure reason; a *child.PanicError for a panic
	// Returned is, for ChildStopped and AbandonedReturned, what the child's
	// Serve returned, even when the stop was clean (often context.Canceled)
	// and Err is nil.
	Returned  error
	Restarts  int           // the child's restart count so far (see ChildInfo.Restarts)
	InWindow  int           // restarts inside the intensity window (IntensityExceeded)
	Delay     time.Duration // backoff delay (RestartScheduled)
	Restarted bool          // ChildExited: the exit leads to a restart
	// Term is, for the leadership events, the cluster singleton's term on
	// this node; nil for other events.
	Term *Term
	// Elapsed is, for ChildStarted, the time from the incarnation's launch to
	// its readiness; for ChildStopped and ChildAbandoned, the time from the
	// polite stop (context cancelled) to its return or abandonment. Read on
	// the supervisor's clock.
	Elapsed time.Duration
}

// Term is a cluster singleton's term of leadership on this node (see package
// cluster): the name it campaigns for and the term's fencing token.
type Term struct {
	Name     string // the name in the elector, the same on every node
	Key      string // the fencing token's election key
	Revision int64  // the fencing token's revision: increases from term to term
}

// String returns the term as "name key@revision".
func (t Term) String() string { return t.Name + " " + t.token() }

// token is the fencing token as "key@revision", as package cluster writes it.
func (t Term) token() string { return t.Key + "@" + strconv.FormatInt(t.Revision, 10) }

// Context returns the OTP report context of e: "started", "start_error",
// "child_terminated", "shutdown_error", "reached_max_restart_intensity", or ""
// for events OTP does not report.
func (e Event) Context() string {
	switch e.Kind {
	case ChildStarted:
		return "started"
	case ChildStartFailed:
		return "start_error"
	case ChildExited:
		// Reported when it is restarted, for any abnormal exit (a temporary
		// child's, or one that a pending stop or the intensity kept from a
		// restart), and for a permanent child's every exit, as in OTP.
		if e.Restarted || !child.IsNormal(e.Err) || e.Restart == child.Permanent {
			return "child_terminated"
		}
	case ChildAbandoned:
		if e.Err != nil {
			return "shutdown_error"
		}
	case ChildStopped:
		if e.Err != nil {
			return "shutdown_error"
		}
	case IntensityExceeded:
		return "reached_max_restart_intensity"
	}
	return ""
}

// MarshalLogObject writes e's fields with arbor's stable keys, so
// zap.Object("event", e) logs it.
func (e Event) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("kind", e.Kind.String())
	enc.AddString("supervisor", e.Supervisor)
	enc.AddUint64("run", e.Run)
	if e.Child != "" {
		enc.AddString("child", e.Child)
		enc.AddUint64("incarnation", e.Incarnation)
		enc.AddString("restart", e.Restart.String())
		enc.AddInt("restarts", e.Restarts)
	}
	if c := e.Context(); c != "" {
		enc.AddString("context", c)
	}
	if e.Err != nil {
		enc.AddString("error", e.Err.Error())
	}
	if e.Delay > 0 {
		enc.AddDuration("delay", e.Delay)
	}
	if t := e.Term; t != nil {
		enc.AddString("singleton", t.Name)
		enc.AddString("token", t.token())
	}
	return nil
}

// Hook receives events. See [WithHook] for how hooks are called.
type Hook func(Event)

// dispatcher delivers events to hooks on a goroutine that exists only while
// events are queued, so a slow hook never holds the supervisor up and a hook
// may call back into the supervisor.
type dispatcher struct {
	hooks []Hook
	log   *zap.Logger

	mu      sync.Mutex
	queue   []Event // guarded by mu
	running bool    // guarded by mu: a deliver goroutine is active
}

func (d *dispatcher) push(ev Event) {
	d.mu.Lock()
	d.queue = append(d.queue, ev)
	start := !d.running
	d.running = true
	d.mu.Unlock()
	if start {
		// Ends as soon as it finds the queue empty.
		go d.deliver()
	}
}

func (d *dispatcher) deliver() {
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		if len(batch) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		for _, ev := range batch {
			for _, h := range d.hooks {
				d.call(h, ev)
			}
		}
	}
}

func (d *dispatcher) call(h Hook, ev Event) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("event hook panicked", zap.Stringer("event_kind", ev.Kind), zap.Any("panic", v), zap.Stack("stack"))
		}
	}()
	h(ev)
}

// checkEvent returns the log entry for ev, with a fixed message per kind and
// level, or nil if that level is disabled. writeEvent then adds the fields,
// with fixed keys; the logger already carries the supervisor's path.
func checkEvent(log *zap.Logger, ev Event) *zapcore.CheckedEntry {
	var (
		level = zapcore.DebugLevel
		msg   string
	)
	switch ev.Kind {
	case ChildStarted:
		msg = "child started"
	case ChildIgnored:
		msg, level = "child ignored its start", zapcore.InfoLevel
	case ChildStartFailed:
		msg, level = "child failed to start", zapcore.ErrorLevel
	case ChildExited:
		msg, level = "child exited", zapcore.InfoLevel
		if ev.Context() == "child_terminated" {
			msg, level = "child terminated", zapcore.ErrorLevel
		}
	case ChildStopped:
		msg = "child stopped"
		if ev.Err != nil {
			level = zapcore.ErrorLevel
		}
	case ChildAbandoned:
		msg, level = "child abandoned after its shutdown budget", zapcore.ErrorLevel
		if ev.Err == nil {
			msg, level = "child abandoned (brutal kill)", zapcore.InfoLevel
		}
	case AbandonedReturned:
		msg, level = "abandoned child returned", zapcore.InfoLevel
	case RestartScheduled:
		msg, level = "restart scheduled", zapcore.InfoLevel
	case IntensityExceeded:
		msg, level = "reached max restart intensity", zapcore.ErrorLevel
	case AutoShutdownTriggered:
		msg, level = "significant child ended: auto-shutdown", zapcore.InfoLevel
	case SupervisorReady:
		msg = "supervisor started"
	case ChildLeaked:
		msg, level = "child leaked goroutines", zapcore.WarnLevel
	case LeadershipAcquired:
		msg, level = "leadership acquired", zapcore.InfoLevel
	case LeadershipLost:
		msg, level = "leadership lost", zapcore.WarnLevel
	case LeadershipReleased:
		msg, level = "leadership released", zapcore.InfoLevel
		if ev.Err != nil {
			level = zapcore.ErrorLevel
		}
	case SupervisorStopped:
		msg, level = "supervisor stopped", zapcore.InfoLevel
		if ev.Err != nil {
			level = zapcore.ErrorLevel
		}
	}
	return log.Check(level, msg)
}

// writeEvent writes ev's fields into its checked log entry; a panic's or an
// abandoned child's stacks become the entry's stack.
func writeEvent(ce *zapcore.CheckedEntry, ev Event) {
	fields := make([]zap.Field, 0, 10)
	fields = append(fields, zap.Uint64("run", ev.Run))
	if ev.Child != "" {
		fields = append(fields, zap.String("child", ev.Child), zap.Uint64("incarnation", ev.Incarnation),
			zap.Stringer("restart", ev.Restart), zap.Int("restarts", ev.Restarts))
	}
	if c := ev.Context(); c != "" {
		fields = append(fields, zap.String("context", c))
	}
	if ev.Err != nil {
		var ge *GiveUpError
		var pe *child.PanicError
		var st *StopTimeoutError
		var le *LeakError
		switch {
		case ev.Kind != SupervisorStopped && errors.As(ev.Err, &ge):
			// A nested supervisor gave up: that is what its parent reports,
			// not the last exit of the grandchild it could not absorb.
			fields = append(fields, zap.String("reason", "gave_up"), zap.String("gave_up_after", ge.Supervisor+"/"+ge.Child), zap.Error(ev.Err))
		case errors.As(ev.Err, &pe):
			if ev.Kind != IntensityExceeded { // there "reason" is reached_max_restart_intensity
				fields = append(fields, zap.String("reason", "panic"))
			}
			fields = append(fields, zap.String("panic", fmt.Sprint(pe.Value)))
			if ev.Context() != "" { // a report: the stack once, not again on the restart's own entry
				// The entry's own stack: encoders print it on its own lines
				// (console) or under their stacktrace key (JSON).
				ce.Stack = pe.Stack()
			}
		case errors.As(ev.Err, &st):
			fields = append(fields, zap.Error(ev.Err), zap.Duration("shutdown", st.Budget))
			if st.Stacks != "" {
				ce.Stack = st.Stacks
			}
		case errors.As(ev.Err, &le):
			fields = append(fields, zap.Error(ev.Err), zap.Int("goroutines", le.Goroutines))
			ce.Stack = le.Stacks
		default:
			fields = append(fields, zap.Error(ev.Err))
		}
	}
	if ev.Kind == IntensityExceeded {
		fields = append(fields, zap.String("reason", "reached_max_restart_intensity"), zap.Int("restarts_in_window", ev.InWindow))
	}
	if ev.Kind == ChildExited && ev.Err == nil && ev.Restart == child.Permanent {
		fields = append(fields, zap.String("hint", "a permanent child is restarted even when it returns nil; make it Transient if it may finish"))
	}
	if ev.Delay > 0 {
		fields = append(fields, zap.Duration("delay", ev.Delay))
	}
	if t := ev.Term; t != nil {
		fields = append(fields, zap.String("singleton", t.Name), zap.String("token", t.token()))
	}
	ce.Write(fields...)
}
