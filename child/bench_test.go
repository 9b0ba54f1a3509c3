package child_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/arborgo/arbor/child"
)

// BenchmarkIsNormal classifies exit reasons, as the supervisor does on every exit.
func BenchmarkIsNormal(b *testing.B) {
	for name, err := range map[string]error{
		"nil":      nil,
		"error":    errors.New("boom"),
		"shutdown": child.Shutdownf("drained"),
		"wrapped":  fmt.Errorf("a: %w", fmt.Errorf("b: %w", errors.New("c"))),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = child.IsNormal(err)
			}
		})
	}
}
