package child

import "fmt"

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

// String returns the lower-case OTP name of r, such as "permanent".
func (r Restart) String() string {
	if int(r) < len(restartNames) {
		return restartNames[r]
	}
	return fmt.Sprintf("Restart(%d)", uint8(r))
}

// MarshalText encodes r as its name. An unknown value is an error.
func (r Restart) MarshalText() ([]byte, error) {
	if int(r) >= len(restartNames) {
		return nil, fmt.Errorf("%w: restart: unknown value %d", ErrInvalidSpec, uint8(r))
	}
	return []byte(restartNames[r]), nil
}

// UnmarshalText parses a restart type name: "permanent", "transient" or "temporary".
func (r *Restart) UnmarshalText(text []byte) error {
	for i, name := range restartNames {
		if string(text) == name {
			*r = Restart(i)
			return nil
		}
	}
	return &SpecError{Field: "Restart", Value: string(text), Reason: `want "permanent", "transient" or "temporary"`}
}

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

// String returns "worker" or "supervisor".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText encodes k as its name. An unknown value is an error.
func (k Kind) MarshalText() ([]byte, error) {
	if int(k) >= len(kindNames) {
		return nil, fmt.Errorf("%w: kind: unknown value %d", ErrInvalidSpec, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText parses "worker" or "supervisor".
func (k *Kind) UnmarshalText(text []byte) error {
	for i, name := range kindNames {
		if string(text) == name {
			*k = Kind(i)
			return nil
		}
	}
	return &SpecError{Field: "Kind", Value: string(text), Reason: `want "worker" or "supervisor"`}
}
