package child

import "github.com/arborgo/arbor/internal/enum"

// Restart says when a child is restarted after it exits by itself. The zero
// value is [Permanent], OTP's default.
type Restart uint8

const (
	// Permanent children are restarted after every exit, normal or not.
	Permanent Restart = iota
	// Transient children are restarted only after an abnormal exit.
	Transient
	// Temporary children are never restarted; their spec is dropped when they exit.
	Temporary
)

var restartNames = [...]string{Permanent: "permanent", Transient: "transient", Temporary: "temporary"}

var restartText = enum.Text[Restart]{Type: "Restart", Names: restartNames[:], Invalid: func(text, want string) error {
	return &SpecError{Field: "Restart", Value: text, Reason: "want " + want}
}}

// String returns the lower-case OTP name of r, such as "permanent".
func (r Restart) String() string { return restartText.String(r) }

// MarshalText encodes r as its name. An unknown value is an error.
func (r Restart) MarshalText() ([]byte, error) { return restartText.Marshal(r) }

// UnmarshalText parses a restart type name: "permanent", "transient" or "temporary".
func (r *Restart) UnmarshalText(text []byte) error { return restartText.Unmarshal(text, r) }

// ShouldRestart reports whether an exit of a child of type r is restarted;
// normal says whether the exit was normal (see [IsNormal]).
func (r Restart) ShouldRestart(normal bool) bool {
	switch r {
	case Permanent:
		return true
	case Transient:
		return !normal
	default:
		return false
	}
}

// Kind says whether a child is a worker or a nested supervisor. The zero value
// is [KindAuto]: the kind is taken from the service.
type Kind uint8

const (
	// KindAuto, the zero Kind, takes the child's kind from its service:
	// [KindSupervisor] for a service that is a supervisor itself (it
	// implements [Supervising], as *supervisor.Supervisor and
	// *supervisor.Simple do), [KindWorker] otherwise. [Spec.WithDefaults]
	// resolves it, so a supervisor never reports it.
	KindAuto Kind = iota
	// KindWorker is an ordinary child.
	KindWorker
	// KindSupervisor is a nested supervisor. Its shutdown and start budgets default
	// to [Infinity], bounded by its parent's, and it always reports readiness.
	KindSupervisor
)

var kindNames = [...]string{KindAuto: "auto", KindWorker: "worker", KindSupervisor: "supervisor"}

// Supervising is implemented by a [Service] that is a supervisor itself, as
// *supervisor.Supervisor and *supervisor.Simple are; a supervisor of your own
// opts in by implementing it. A spec for such a service is of
// [KindSupervisor] unless it says otherwise, and one that declares it
// [KindWorker] is rejected: a nested supervisor must be awaited (its next
// sibling starts once its whole subtree is up) and must get a supervisor's
// budgets.
type Supervising interface {
	Service
	// Supervising marks the service as a supervisor; it is never called.
	Supervising()
}

var kindText = enum.Text[Kind]{Type: "Kind", Names: kindNames[:], Invalid: func(text, want string) error {
	return &SpecError{Field: "Kind", Value: text, Reason: "want " + want}
}}

// String returns "auto", "worker" or "supervisor".
func (k Kind) String() string { return kindText.String(k) }

// MarshalText encodes k as its name. An unknown value is an error.
func (k Kind) MarshalText() ([]byte, error) { return kindText.Marshal(k) }

// UnmarshalText parses "auto", "worker" or "supervisor".
func (k *Kind) UnmarshalText(text []byte) error { return kindText.Unmarshal(text, k) }
