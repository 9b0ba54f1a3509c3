package enum_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/arborgo/arbor/internal/enum"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type color uint8

var colorText = enum.Text[color]{Type: "color", Names: []string{"red", "green", "blue"}, Invalid: enum.Errorf("test: unknown color")}

func TestText(t *testing.T) {
	if got := colorText.String(1); got != "green" {
		t.Errorf("String(1) = %q", got)
	}
	if got := colorText.String(9); got != "color(9)" {
		t.Errorf("String(9) = %q", got)
	}
	if b, err := colorText.Marshal(2); err != nil || string(b) != "blue" {
		t.Errorf("Marshal(2) = %q, %v", b, err)
	}
	if _, err := colorText.Marshal(3); err == nil || err.Error() != `test: unknown color "3": want "red", "green" or "blue"` {
		t.Errorf("Marshal(3) error = %v", err)
	}
	var c color
	if err := colorText.Unmarshal([]byte("blue"), &c); err != nil || c != 2 {
		t.Errorf("Unmarshal(blue) = %v, %v", c, err)
	}
	err := colorText.Unmarshal([]byte("pink"), &c)
	if err == nil || err.Error() != `test: unknown color "pink": want "red", "green" or "blue"` || c != 2 {
		t.Errorf("Unmarshal(pink) = %v, %v; want an error naming the choices, c untouched", c, err)
	}
	two := enum.Text[color]{Names: []string{"a", "b"}, Invalid: func(string, string) error { return errors.New("x") }}
	if w := two.Want(); w != `"a" or "b"` {
		t.Errorf("Want = %q", w)
	}
}
