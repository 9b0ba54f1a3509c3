// Package enum gives arbor's closed enums (uint8 iota values named in OTP's
// spelling) their String, MarshalText and UnmarshalText behaviour, written
// once.
package enum

import (
	"fmt"
	"strconv"
	"strings"
)

// Text is the text form of the enum T: Names[v] is the name of value v.
type Text[T ~uint8] struct {
	Type  string   // the Go type's name, for an unknown value's String: "Restart(7)"
	Names []string // the name of each value, indexed by value
	// Invalid builds the error for text that names no value, or, from
	// MarshalText, for an unknown value (text is then its number); want
	// lists the valid names, such as `"a", "b" or "c"`.
	Invalid func(text string, want string) error
}

// String returns the name of v, or Type(v) for an unknown value.
func (t Text[T]) String(v T) string {
	if int(v) < len(t.Names) {
		return t.Names[v]
	}
	return t.Type + "(" + strconv.Itoa(int(v)) + ")"
}

// Marshal returns the name of v, or an error for an unknown value.
func (t Text[T]) Marshal(v T) ([]byte, error) {
	if int(v) >= len(t.Names) {
		return nil, t.Invalid(strconv.Itoa(int(v)), t.Want())
	}
	return []byte(t.Names[v]), nil
}

// Unmarshal sets *v to the value named text, or returns an error naming the
// valid names.
func (t Text[T]) Unmarshal(text []byte, v *T) error {
	for i, n := range t.Names {
		if string(text) == n {
			*v = T(i)
			return nil
		}
	}
	return t.Invalid(string(text), t.Want())
}

// Want lists the names, quoted: `"a", "b" or "c"`.
func (t Text[T]) Want() string {
	var b strings.Builder
	for i, n := range t.Names {
		switch {
		case i == 0:
		case i == len(t.Names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// Errorf returns an Invalid function for errors of the form
// "<prefix> %q: want <names>".
func Errorf(prefix string) func(text, want string) error {
	return func(text, want string) error {
		return fmt.Errorf("%s %q: want %s", prefix, text, want)
	}
}
