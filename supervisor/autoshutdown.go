package supervisor

import (
	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/internal/enum"
)

// AutoShutdown says whether the exit of significant children shuts the
// supervisor down (OTP's auto_shutdown). The zero value is [AutoShutdownNever].
type AutoShutdown uint8

const (
	// AutoShutdownNever: significant children are not allowed.
	AutoShutdownNever AutoShutdown = iota
	// AutoShutdownAnySignificant: the supervisor shuts down when any significant child
	// ends by itself without being restarted.
	AutoShutdownAnySignificant
	// AutoShutdownAllSignificant: the supervisor shuts down when a significant child ends
	// by itself and no significant child is still running or waiting for its
	// restart (state [StateRestarting]).
	AutoShutdownAllSignificant
)

var autoNames = [...]string{AutoShutdownNever: "never", AutoShutdownAnySignificant: "any_significant", AutoShutdownAllSignificant: "all_significant"}

var autoText = enum.Text[AutoShutdown]{Type: "AutoShutdown", Names: autoNames[:], Invalid: enum.Errorf("supervisor: unknown auto-shutdown")}

// String returns OTP's name, such as "any_significant".
func (a AutoShutdown) String() string { return autoText.String(a) }

// MarshalText encodes a as its OTP name. An unknown value is an error.
func (a AutoShutdown) MarshalText() ([]byte, error) { return autoText.Marshal(a) }

// UnmarshalText parses "never", "any_significant" or "all_significant".
func (a *AutoShutdown) UnmarshalText(text []byte) error { return autoText.Unmarshal(text, a) }

// checkSignificant returns a [*child.SpecError] on the field Significant for a
// significant spec under auto-shutdown a [AutoShutdownNever], and nil otherwise: New,
// CheckSpecs, Apply and StartChild all reject such a spec with it.
func checkSignificant(sp child.Spec, a AutoShutdown) error {
	if !sp.Significant || a != AutoShutdownNever {
		return nil
	}
	return &child.SpecError{ID: sp.ID, Field: "Significant", Value: true,
		Reason: "significant children need an auto-shutdown setting other than Never (WithAutoShutdown)"}
}
