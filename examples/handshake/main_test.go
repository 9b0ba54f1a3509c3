package handshake_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package ends with no goroutine of its own left: an
// abandoned child, a hook, a caller that gave up all count.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
