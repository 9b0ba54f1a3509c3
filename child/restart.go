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
// is [KindWorker].
type Kind uint8

const (
	// KindWorker is an ordinary child.
	KindWorker Kind = iota
	// KindSupervisor is a nested supervisor. Its shutdown and start budgets default
	// to [Infinity], bounded by its parent's, and it always reports readiness.
	KindSupervisor
)

var kindNames = [...]string{KindWorker: "worker", KindSupervisor: "supervisor"}

var kindText = enum.Text[Kind]{Type: "Kind", Names: kindNames[:], Invalid: func(text, want string) error {
	return &SpecError{Field: "Kind", Value: text, Reason: "want " + want}
}}

// String returns "worker" or "supervisor".
func (k Kind) String() string { return kindText.String(k) }

// MarshalText encodes k as its name. An unknown value is an error.
func (k Kind) MarshalText() ([]byte, error) { return kindText.Marshal(k) }

// UnmarshalText parses "worker" or "supervisor".
func (k *Kind) UnmarshalText(text []byte) error { return kindText.Unmarshal(text, k) }
