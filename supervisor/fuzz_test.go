package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// Bad input gets an error that names the problem, never a panic:
// arbitrary spec lists and options through CheckSpecs and New.
func FuzzCheckSpecs(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, int64(-3), uint8(4), true)
	f.Add([]byte("aab"), int64(0), uint8(0), false)
	f.Add([]byte{}, int64(5e9), uint8(1), true)
	svc := child.Func(func(context.Context) error { return nil })
	f.Fuzz(func(t *testing.T, ids []byte, shutdown int64, restart uint8, significant bool) {
		var specs []child.Spec
		for i, b := range ids {
			sp := child.Spec{
				ID:           string(rune('a' + b%4)),
				Restart:      child.Restart(restart % 5),
				Shutdown:     time.Duration(shutdown) + time.Duration(i),
				StartTimeout: time.Duration(-int64(b % 3)),
				Kind:         child.Kind(b % 3),
				Significant:  significant && b%2 == 0,
			}
			if b%7 != 0 {
				sp.Service = svc
			}
			specs = append(specs, sp)
		}
		err := supervisor.CheckSpecs(specs, supervisor.WithAutoShutdown(supervisor.AutoShutdown(restart%4)))
		if err != nil && !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) {
			t.Fatalf("CheckSpecs error %v matches neither ErrInvalidSpec nor ErrDuplicateID", err)
		}
		_, err = supervisor.New("root", specs, supervisor.WithAutoShutdown(supervisor.AutoShutdown(restart%4)))
		if err != nil && !errors.Is(err, child.ErrInvalidSpec) && !errors.Is(err, supervisor.ErrDuplicateID) && !errors.Is(err, supervisor.ErrInvalidOption) {
			t.Fatalf("New error %v names no known problem", err)
		}
	})
}
