package waitbuf

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// WaitFor returns once a later write makes the output match, with the match.
func TestWaitForLaterWrite(t *testing.T) {
	var b Buffer
	fmt.Fprintln(&b, "starting")
	done := make(chan struct{})
	go func() { // ends after its writes
		defer close(done)
		fmt.Fprintln(&b, "step 1")
		fmt.Fprintln(&b, "ready on port 8080")
	}()
	m := b.WaitFor(t, regexp.MustCompile(`ready on port (\d+)`), time.Minute)
	<-done
	if m[1] != "8080" {
		t.Fatalf("match %q; want the port", m)
	}
	if got := b.String(); got != "starting\nstep 1\nready on port 8080\n" {
		t.Fatalf("String = %q", got)
	}
}
