package daemon

import "testing"

func TestReadableStacks(t *testing.T) {
	profile := `1 @ 0x442931 0x47cd1d 0x4c8771
# labels: {"arbor_child":"root/x"}
#	0x4c8770	runtime/pprof.writeRuntimeProfile+0xb0	/usr/local/go/src/runtime/pprof/pprof.go:851
#	0x4dc04e	main.(*T).Serve[...]+0x8e			/tmp/prof.go:3

3 @ 0x4dc061 0x483e41
# labels: {"arbor_child":"root/x"}
#	0x4dc060	main.main.func1.1+0x0	/tmp/prof.go:3
an unexpected line

`
	want := `1 goroutine:
runtime/pprof.writeRuntimeProfile
	/usr/local/go/src/runtime/pprof/pprof.go:851
main.(*T).Serve[...]
	/tmp/prof.go:3

3 goroutines:
main.main.func1.1
	/tmp/prof.go:3
an unexpected line`
	if got := readableStacks(profile); got != want {
		t.Errorf("readableStacks =\n%s\nwant\n%s", got, want)
	}
	if got := readableStacks(""); got != "" {
		t.Errorf("readableStacks(\"\") = %q", got)
	}
}
