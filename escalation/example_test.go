package escalation_test

import (
	"fmt"
	"time"

	"github.com/arborgo/arbor/escalation"
)

// With OTP's default intensity, 1 restart in 5 s, the second restart inside
// the window is refused. The boundary is inclusive: an event exactly 5 s old
// still counts.
func ExampleWindow() {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w := escalation.NewWindow(escalation.Default)
	fmt.Println(w.Intensity())
	fmt.Println(w.Record(start))                      // first restart
	fmt.Println(w.Record(start.Add(5 * time.Second))) // exactly 5 s later: give up
	w.Reset()
	fmt.Println(w.Record(start))
	fmt.Println(w.Record(start.Add(5*time.Second + time.Nanosecond))) // the first has expired
	fmt.Println(w.Len(start.Add(6 * time.Second)))
	// Output:
	// 1 in 5s
	// true
	// false
	// true
	// true
	// 1
}

// MaxRestarts 0 means "never restart": the first restart is refused.
func ExampleWindow_never() {
	w := escalation.NewWindow(escalation.Intensity{MaxRestarts: 0, Period: time.Second})
	fmt.Println(w.Record(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	// Output:
	// false
}

func ExampleIntensity_Validate() {
	err := escalation.Intensity{MaxRestarts: 3, Period: 0}.Validate()
	fmt.Println(err)
	// Output:
	// escalation: invalid intensity: Period = 0s: must be positive
}
