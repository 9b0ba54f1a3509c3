package child

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

const (
	// DefaultShutdown is a worker's shutdown budget when [Spec.Shutdown] is 0.
	DefaultShutdown = 5 * time.Second

	// DefaultStartTimeout is a worker's start budget when [Spec.StartTimeout] is 0.
	DefaultStartTimeout = 15 * time.Second

	// Infinity as a budget means "wait for ever", bounded only by the budget of
	// the parent. It is the default for nested supervisors, as in OTP.
	Infinity time.Duration = -1

	// BrutalKill as a shutdown budget is the nearest Go has to OTP's
	// brutal_kill: the child's context is cancelled and the supervisor does not
	// wait. An incarnation still running is abandoned at once; unlike an
	// overrun budget, that is expected and reported as such, not as an error.
	BrutalKill time.Duration = -2
)

// Spec declares one child (OTP's child_spec). ID and Service are required; every
// other zero value means the documented default.
type Spec struct {
	// ID names the child among its siblings. Required, unique within a supervisor.
	ID string

	// Service runs one incarnation per call of Serve. Required.
	Service Service

	// Restart says when the child is restarted. Default [Permanent].
	Restart Restart

	// Kind says whether the child is a worker or a nested supervisor. Default
	// [KindAuto]: taken from the service ([Supervising]), else [KindWorker].
	Kind Kind

	// Shutdown is how long the child has to return after its context is
	// cancelled: a positive duration, [Infinity] or [BrutalKill]. Default
	// [DefaultShutdown] for a worker and [Infinity] for a supervisor.
	Shutdown time.Duration

	// AwaitReady makes the supervisor wait until the child calls [Ready] before
	// it considers the child started and starts the next sibling. A nested
	// supervisor is always awaited. Default false: a child is started as soon
	// as its goroutine is.
	AwaitReady bool

	// StartTimeout bounds the wait for [Ready]: a positive duration or
	// [Infinity]. Default [DefaultStartTimeout] for a worker, [Infinity] for a
	// supervisor (bounded by its parent's start deadline). Ignored when the
	// child is not awaited.
	StartTimeout time.Duration

	// StartGroup names a start group: adjacent children with the same
	// non-empty StartGroup are independent of each other and start in
	// parallel when their supervisor starts; the next sibling starts once
	// every member is ready, and a member's failure stops the group and the
	// earlier siblings, with an error naming every member that failed. They
	// still stop one at a time, in reverse declared order. Restarts and
	// children added later start one at a time. Default "": no group.
	StartGroup string

	// Significant marks a transient or temporary child whose own exit can shut
	// its supervisor down, as the supervisor's auto-shutdown setting says
	// (OTP's significant children). Default false.
	Significant bool
}

// Validate checks every field and returns the first problem as a [*SpecError]
// naming the field and its value, or nil.
func (s Spec) Validate() error {
	bad := func(field string, value any, reason string) error {
		return &SpecError{ID: s.ID, Field: field, Value: value, Reason: reason}
	}
	switch {
	case s.ID == "":
		return bad("ID", s.ID, "must not be empty")
	case strings.Contains(s.ID, "/"):
		return bad("ID", s.ID, `must not contain "/": a child's path in the tree joins IDs with it`)
	case s.Service == nil:
		return bad("Service", s.Service, "must not be nil")
	case s.Restart > Temporary:
		return bad("Restart", s.Restart, "unknown restart type")
	case s.Kind > KindSupervisor:
		return bad("Kind", s.Kind, "unknown kind")
	case s.Kind == KindWorker && isSupervising(s.Service):
		return bad("Kind", s.Kind, "the service is a supervisor (it implements child.Supervising): leave Kind unset, or set KindSupervisor")
	case s.Shutdown < 0 && s.Shutdown != Infinity && s.Shutdown != BrutalKill:
		return bad("Shutdown", s.Shutdown, "must be positive, 0 (default), Infinity or BrutalKill")
	case s.StartTimeout < 0 && s.StartTimeout != Infinity:
		return bad("StartTimeout", s.StartTimeout, "must be positive, 0 (default) or Infinity")
	case s.Significant && s.Restart == Permanent:
		return bad("Significant", s.Significant, "a permanent child cannot be significant; make it transient or temporary")
	}
	if f, ok := s.Service.(Func); ok && f == nil {
		return bad("Service", "child.Func(nil)", "must not be a nil function")
	}
	if v := reflect.ValueOf(s.Service); isNil(v) {
		return bad("Service", fmt.Sprintf("(%s)(nil)", v.Type()), "must not be a nil "+v.Kind().String())
	}
	return nil
}

// WithDefaults returns s with every zero field replaced by its default, as
// [Spec.Validate]'s documentation and OTP's get_childspec describe.
func (s Spec) WithDefaults() Spec {
	if s.Kind == KindAuto {
		s.Kind = KindWorker
		if isSupervising(s.Service) {
			s.Kind = KindSupervisor
		}
	}
	if s.Kind == KindSupervisor {
		s.AwaitReady = true
	}
	if s.Shutdown == 0 {
		s.Shutdown = DefaultShutdown
		if s.Kind == KindSupervisor {
			s.Shutdown = Infinity
		}
	}
	if s.StartTimeout == 0 {
		s.StartTimeout = DefaultStartTimeout
		if s.Kind == KindSupervisor {
			s.StartTimeout = Infinity
		}
	}
	return s
}

// String returns a short description such as `worker "db" (permanent)`.
func (s Spec) String() string {
	return fmt.Sprintf("%s %q (%s)", s.WithDefaults().Kind, s.ID, s.Restart)
}

// isSupervising reports whether svc is a supervisor itself.
func isSupervising(svc Service) bool {
	_, ok := svc.(Supervising)
	return ok
}

// isNil reports whether v holds a nil pointer, func, map, chan or slice: a
// typed nil behind a non-nil interface, which would panic when served.
func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}
