package child_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/arborgo/arbor/child"
)

func TestRestartText(t *testing.T) {
	tests := []struct {
		r    child.Restart
		name string
	}{
		{child.Permanent, "permanent"},
		{child.Transient, "transient"},
		{child.Temporary, "temporary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			text, err := tt.r.MarshalText()
			if err != nil || string(text) != tt.name {
				t.Fatalf("MarshalText() = %q, %v; want %q, nil", text, err, tt.name)
			}
			r := child.Restart(99)
			if err := r.UnmarshalText(text); err != nil || r != tt.r {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v, nil", text, r, err, tt.r)
			}
			// Through encoding/json, which uses the text methods.
			b, err := json.Marshal(struct{ R child.Restart }{tt.r})
			if err != nil || string(b) != `{"R":"`+tt.name+`"}` {
				t.Fatalf("json.Marshal = %s, %v", b, err)
			}
			var back struct{ R child.Restart }
			back.R = 99
			if err := json.Unmarshal(b, &back); err != nil || back.R != tt.r {
				t.Errorf("json round trip = %v, %v; want %v", back.R, err, tt.r)
			}
		})
	}
	if child.Restart(0) != child.Permanent {
		t.Error("zero Restart is not Permanent")
	}
}

func TestRestartTextErrors(t *testing.T) {
	for _, r := range []child.Restart{3, 7, 255} {
		if got, want := r.String(), fmt.Sprintf("Restart(%d)", uint8(r)); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		text, err := r.MarshalText()
		if err == nil || text != nil {
			t.Errorf("Restart(%d).MarshalText() = %q, %v; want nil, error", uint8(r), text, err)
		}
		if !errors.Is(err, child.ErrInvalidSpec) {
			t.Errorf("MarshalText error %v does not match ErrInvalidSpec", err)
		}
	}
	for _, text := range []string{"", "Permanent", "PERMANENT", "permanent ", "restart", "brutal_kill", "3"} {
		t.Run(fmt.Sprintf("%q", text), func(t *testing.T) {
			r := child.Transient
			err := r.UnmarshalText([]byte(text))
			if err == nil {
				t.Fatalf("UnmarshalText(%q) = nil, want error", text)
			}
			if r != child.Transient {
				t.Errorf("UnmarshalText changed the value to %v on error", r)
			}
			var se *child.SpecError
			if !errors.As(err, &se) || se.Field != "Restart" || se.Value != text {
				t.Errorf("error = %#v, want *SpecError{Field: Restart, Value: %q}", err, text)
			}
			if !errors.Is(err, child.ErrInvalidSpec) {
				t.Error("error does not match ErrInvalidSpec")
			}
		})
	}
}

func TestKindText(t *testing.T) {
	tests := []struct {
		k    child.Kind
		name string
	}{
		{child.KindAuto, "auto"},
		{child.KindWorker, "worker"},
		{child.KindSupervisor, "supervisor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.k.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			text, err := tt.k.MarshalText()
			if err != nil || string(text) != tt.name {
				t.Fatalf("MarshalText() = %q, %v; want %q, nil", text, err, tt.name)
			}
			k := child.Kind(99)
			if err := k.UnmarshalText(text); err != nil || k != tt.k {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v, nil", text, k, err, tt.k)
			}
		})
	}
	if child.Kind(0) != child.KindAuto {
		t.Error("zero Kind is not KindAuto")
	}
}

func TestKindTextErrors(t *testing.T) {
	for _, k := range []child.Kind{3, 200} {
		if got, want := k.String(), fmt.Sprintf("Kind(%d)", uint8(k)); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		text, err := k.MarshalText()
		if err == nil || text != nil || !errors.Is(err, child.ErrInvalidSpec) {
			t.Errorf("Kind(%d).MarshalText() = %q, %v; want nil, ErrInvalidSpec", uint8(k), text, err)
		}
	}
	for _, text := range []string{"", "Worker", "sup", "supervisor\n"} {
		k := child.KindSupervisor
		err := k.UnmarshalText([]byte(text))
		var se *child.SpecError
		if !errors.As(err, &se) || se.Field != "Kind" || se.Value != text {
			t.Errorf("UnmarshalText(%q) = %#v, want *SpecError{Field: Kind}", text, err)
		}
		if !errors.Is(err, child.ErrInvalidSpec) {
			t.Errorf("UnmarshalText(%q) error does not match ErrInvalidSpec", text)
		}
		if k != child.KindSupervisor {
			t.Errorf("UnmarshalText(%q) changed the value to %v on error", text, k)
		}
	}
}

// TestShouldRestart is the a4 table: restart type × normal/abnormal exit.
func TestShouldRestart(t *testing.T) {
	tests := []struct {
		r                child.Restart
		normal, abnormal bool
	}{
		{child.Permanent, true, true}, // a4, a14.7: restarted even after a nil return
		{child.Transient, false, true},
		{child.Temporary, false, false},
		{child.Restart(3), false, false}, // unknown types never restart
	}
	for _, tt := range tests {
		if got := tt.r.ShouldRestart(true); got != tt.normal {
			t.Errorf("%v.ShouldRestart(normal) = %v, want %v", tt.r, got, tt.normal)
		}
		if got := tt.r.ShouldRestart(false); got != tt.abnormal {
			t.Errorf("%v.ShouldRestart(abnormal) = %v, want %v", tt.r, got, tt.abnormal)
		}
	}
}

// TestExitMatrix combines IsNormal and ShouldRestart over the exit reasons of
// the a4 table and the reason table at the top of the semantics document.
func TestExitMatrix(t *testing.T) {
	reasons := []struct {
		name   string
		err    error
		normal bool
	}{
		{"normal (nil)", nil, true},
		{"shutdown", child.ErrShutdown, true},
		{"{shutdown, Term}", child.Shutdownf("term %d", 1), true},
		{"wrapped shutdown", fmt.Errorf("stop: %w", child.ErrShutdown), true},
		{"crash", errors.New("boom"), false},
		{"panic", &child.PanicError{Value: "boom"}, false},
		{"goexit", child.ErrGoexit, false},
	}
	restarts := []struct {
		r           child.Restart
		normalRes   bool // restarted after a normal exit
		abnormalRes bool // restarted after a crash
	}{
		{child.Permanent, true, true},
		{child.Transient, false, true},
		{child.Temporary, false, false},
	}
	for _, rs := range restarts {
		for _, rc := range reasons {
			t.Run(rs.r.String()+"/"+rc.name, func(t *testing.T) {
				normal := child.IsNormal(rc.err)
				if normal != rc.normal {
					t.Fatalf("IsNormal(%v) = %v, want %v", rc.err, normal, rc.normal)
				}
				want := rs.abnormalRes
				if rc.normal {
					want = rs.normalRes
				}
				if got := rs.r.ShouldRestart(normal); got != want {
					t.Errorf("restart = %v, want %v", got, want)
				}
			})
		}
	}
}
