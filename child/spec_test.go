package child_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
)

var noop = child.Func(func(context.Context) error { return nil })

type svcStruct struct{}

func (svcStruct) Serve(context.Context) error { return nil }

// TestSpecValidate covers every field check of a2: a bad field is reported
// as a *SpecError that names the field and matches ErrInvalidSpec.
func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name      string
		spec      child.Spec
		wantField string // "" means valid
		wantValue any    // checked when wantField != "" and wantValue != nil
	}{
		{name: "minimal", spec: child.Spec{ID: "a", Service: noop}},
		{name: "struct service", spec: child.Spec{ID: "a", Service: svcStruct{}}},
		{name: "all explicit", spec: child.Spec{
			ID: "a", Service: noop, Restart: child.Temporary, Kind: child.KindSupervisor,
			Shutdown: time.Second, AwaitReady: true, StartTimeout: time.Minute,
		}},
		{name: "transient", spec: child.Spec{ID: "a", Service: noop, Restart: child.Transient}},
		{name: "shutdown infinity", spec: child.Spec{ID: "a", Service: noop, Shutdown: child.Infinity}},
		{name: "shutdown brutal kill", spec: child.Spec{ID: "a", Service: noop, Shutdown: child.BrutalKill}},
		{name: "shutdown 1ns", spec: child.Spec{ID: "a", Service: noop, Shutdown: 1}},
		{name: "start timeout infinity", spec: child.Spec{ID: "a", Service: noop, StartTimeout: child.Infinity}},
		{name: "start timeout 1ns", spec: child.Spec{ID: "a", Service: noop, StartTimeout: 1}},

		{name: "empty ID", spec: child.Spec{Service: noop}, wantField: "ID", wantValue: ""},
		{name: "nil Service", spec: child.Spec{ID: "a"}, wantField: "Service"},
		{name: "nil Func", spec: child.Spec{ID: "a", Service: child.Func(nil)}, wantField: "Service"},
		{name: "unknown Restart", spec: child.Spec{ID: "a", Service: noop, Restart: 3}, wantField: "Restart", wantValue: child.Restart(3)},
		{name: "unknown Restart max", spec: child.Spec{ID: "a", Service: noop, Restart: 255}, wantField: "Restart", wantValue: child.Restart(255)},
		{name: "unknown Kind", spec: child.Spec{ID: "a", Service: noop, Kind: 3}, wantField: "Kind", wantValue: child.Kind(3)},
		{name: "slash in ID", spec: child.Spec{ID: "a/b", Service: noop}, wantField: "ID", wantValue: "a/b"},
		{name: "worker kind for a supervisor", spec: child.Spec{ID: "a", Service: supervising{}, Kind: child.KindWorker}, wantField: "Kind", wantValue: child.KindWorker},
		{name: "negative Shutdown", spec: child.Spec{ID: "a", Service: noop, Shutdown: -3}, wantField: "Shutdown", wantValue: time.Duration(-3)},
		{name: "negative Shutdown 1s", spec: child.Spec{ID: "a", Service: noop, Shutdown: -time.Second}, wantField: "Shutdown", wantValue: -time.Second},
		{name: "StartTimeout BrutalKill", spec: child.Spec{ID: "a", Service: noop, StartTimeout: child.BrutalKill}, wantField: "StartTimeout", wantValue: child.BrutalKill},
		{name: "negative StartTimeout", spec: child.Spec{ID: "a", Service: noop, StartTimeout: -time.Millisecond}, wantField: "StartTimeout", wantValue: -time.Millisecond},

		// The first problem is reported.
		{name: "empty ID before nil Service", spec: child.Spec{}, wantField: "ID"},
		{name: "Restart before Shutdown", spec: child.Spec{ID: "a", Service: noop, Restart: 9, Shutdown: -9}, wantField: "Restart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error on field %s", tt.wantField)
			}
			if !errors.Is(err, child.ErrInvalidSpec) {
				t.Errorf("errors.Is(%v, ErrInvalidSpec) = false", err)
			}
			var se *child.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("errors.As(%T, *SpecError) = false", err)
			}
			if se.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", se.Field, tt.wantField)
			}
			if se.ID != tt.spec.ID {
				t.Errorf("ID = %q, want %q", se.ID, tt.spec.ID)
			}
			if tt.wantValue != nil && se.Value != tt.wantValue {
				t.Errorf("Value = %#v, want %#v", se.Value, tt.wantValue)
			}
			if se.Reason == "" {
				t.Error("Reason is empty")
			}
			msg := err.Error()
			if !strings.Contains(msg, "field "+tt.wantField+" ") {
				t.Errorf("message %q does not name field %s", msg, tt.wantField)
			}
			if !strings.Contains(msg, se.Reason) {
				t.Errorf("message %q lacks the reason %q", msg, se.Reason)
			}
			if tt.spec.ID != "" && !strings.Contains(msg, `"`+tt.spec.ID+`"`) {
				t.Errorf("message %q lacks the quoted ID", msg)
			}
		})
	}
}

func TestSpecErrorFormat(t *testing.T) {
	tests := []struct {
		err  *child.SpecError
		want string
	}{
		{&child.SpecError{ID: "db", Field: "Shutdown", Value: time.Duration(-5), Reason: "bad"},
			`child: invalid spec "db": field Shutdown = -5ns: bad`},
		{&child.SpecError{ID: "db", Field: "Shutdown", Value: -time.Second, Reason: "bad"},
			`child: invalid spec "db": field Shutdown = -1s: bad`},
		{&child.SpecError{ID: "db", Field: "Kind", Value: child.KindWorker, Reason: "bad"},
			`child: invalid spec "db": field Kind = worker: bad`},
		{&child.SpecError{Field: "ID", Value: "", Reason: "must not be empty"},
			`child: invalid spec: field ID = "": must not be empty`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, child.ErrInvalidSpec) {
			t.Error("SpecError does not match ErrInvalidSpec")
		}
		if errors.Is(tt.err, child.ErrShutdown) || errors.Is(tt.err, child.ErrIgnore) {
			t.Error("SpecError matches an unrelated sentinel")
		}
	}
}

// TestSpecWithDefaults checks the a2 defaults: shutdown 5 s for a worker and
// infinity for a supervisor, permanent, worker, and a supervisor always
// awaited.
func TestSpecWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   child.Spec
		want child.Spec
	}{
		{
			name: "worker zero",
			in:   child.Spec{ID: "w"},
			want: child.Spec{ID: "w", Restart: child.Permanent, Kind: child.KindWorker,
				Shutdown: child.DefaultShutdown, StartTimeout: child.DefaultStartTimeout},
		},
		{
			name: "worker explicit",
			in: child.Spec{ID: "w", Restart: child.Transient, Shutdown: time.Second,
				AwaitReady: true, StartTimeout: 2 * time.Second},
			want: child.Spec{ID: "w", Restart: child.Transient, Kind: child.KindWorker, Shutdown: time.Second,
				AwaitReady: true, StartTimeout: 2 * time.Second},
		},
		{
			name: "worker infinity and brutal kill kept",
			in:   child.Spec{ID: "w", Shutdown: child.BrutalKill, StartTimeout: child.Infinity},
			want: child.Spec{ID: "w", Kind: child.KindWorker, Shutdown: child.BrutalKill, StartTimeout: child.Infinity},
		},
		{
			name: "worker shutdown infinity kept",
			in:   child.Spec{ID: "w", Shutdown: child.Infinity},
			want: child.Spec{ID: "w", Kind: child.KindWorker, Shutdown: child.Infinity, StartTimeout: child.DefaultStartTimeout},
		},
		{
			name: "supervisor zero",
			in:   child.Spec{ID: "s", Kind: child.KindSupervisor},
			want: child.Spec{ID: "s", Kind: child.KindSupervisor, Shutdown: child.Infinity,
				AwaitReady: true, StartTimeout: child.Infinity},
		},
		{
			name: "supervisor explicit budgets",
			in: child.Spec{ID: "s", Kind: child.KindSupervisor, Restart: child.Temporary,
				Shutdown: 3 * time.Second, StartTimeout: time.Second},
			want: child.Spec{ID: "s", Kind: child.KindSupervisor, Restart: child.Temporary,
				Shutdown: 3 * time.Second, AwaitReady: true, StartTimeout: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Service, tt.want.Service = noop, noop
			in := tt.in
			got := tt.in.WithDefaults()
			if !equalSpec(got, tt.want) {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.want)
			}
			if !equalSpec(tt.in, in) {
				t.Error("WithDefaults modified its receiver")
			}
			if again := got.WithDefaults(); !equalSpec(again, got) {
				t.Errorf("WithDefaults is not idempotent: %+v then %+v", got, again)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("defaulted spec does not validate: %v", err)
			}
		})
	}
}

// equalSpec compares specs; Service is compared by presence because Func
// values are not comparable.
func equalSpec(a, b child.Spec) bool {
	return a.ID == b.ID && (a.Service == nil) == (b.Service == nil) &&
		a.Restart == b.Restart && a.Kind == b.Kind && a.Shutdown == b.Shutdown &&
		a.AwaitReady == b.AwaitReady && a.StartTimeout == b.StartTimeout
}

func TestSpecDefaultsConstants(t *testing.T) {
	if child.DefaultShutdown != 5*time.Second {
		t.Errorf("DefaultShutdown = %v, want 5s (OTP's 5000 ms)", child.DefaultShutdown)
	}
	if child.Infinity >= 0 || child.BrutalKill >= 0 || child.Infinity == child.BrutalKill {
		t.Errorf("Infinity = %d, BrutalKill = %d: want distinct negative sentinels", child.Infinity, child.BrutalKill)
	}
	var zero child.Spec
	if d := zero.WithDefaults(); d.Restart != child.Permanent || d.Kind != child.KindWorker {
		t.Error("zero Spec is not a permanent worker")
	}
}

func TestSpecString(t *testing.T) {
	tests := []struct {
		spec child.Spec
		want string
	}{
		{child.Spec{ID: "db"}, `worker "db" (permanent)`},
		{child.Spec{ID: "sup", Kind: child.KindSupervisor, Restart: child.Transient}, `supervisor "sup" (transient)`},
		{child.Spec{ID: "t", Restart: child.Temporary}, `worker "t" (temporary)`},
		{child.Spec{ID: "x", Kind: 5, Restart: 6}, `Kind(5) "x" (Restart(6))`},
	}
	for _, tt := range tests {
		if got := tt.spec.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

type ptrService struct{}

func (*ptrService) Serve(context.Context) error { return nil }

// A typed nil behind the Service interface would panic when served.
func TestSpecValidateTypedNilService(t *testing.T) {
	var p *ptrService
	err := child.Spec{ID: "x", Service: p}.Validate()
	var se *child.SpecError
	if !errors.As(err, &se) || se.Field != "Service" || !strings.Contains(err.Error(), "nil ptr") {
		t.Fatalf("Validate(typed nil) = %v, want a SpecError on Service", err)
	}
	if err := (child.Spec{ID: "x", Service: &ptrService{}}).Validate(); err != nil {
		t.Fatalf("Validate(non-nil pointer) = %v", err)
	}
}

// supervising is a service that says it is a supervisor.
type supervising struct{}

func (supervising) Serve(context.Context) error { return nil }

func (supervising) Supervising() {}

// The kind comes from the service when the spec leaves it
// unset; a supervisor declared as a worker is rejected (by Validate, above).
func TestSpecKindFromService(t *testing.T) {
	if k := (child.Spec{ID: "s", Service: supervising{}}).WithDefaults().Kind; k != child.KindSupervisor {
		t.Errorf("Kind of a supervising service = %v, want supervisor", k)
	}
	d := (child.Spec{ID: "s", Service: supervising{}}).WithDefaults()
	if !d.AwaitReady || d.Shutdown != child.Infinity || d.StartTimeout != child.Infinity {
		t.Errorf("defaults of a supervising service = %+v, want a supervisor's", d)
	}
	if k := (child.Spec{ID: "w", Service: noop}).WithDefaults().Kind; k != child.KindWorker {
		t.Errorf("Kind of a plain service = %v, want worker", k)
	}
	if err := (child.Spec{ID: "s", Service: supervising{}, Kind: child.KindSupervisor}).Validate(); err != nil {
		t.Errorf("an explicit supervisor kind: %v", err)
	}
}
