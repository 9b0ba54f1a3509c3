package supervisor_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

const crashEnv = "ARBOR_TEST_CRASH_ON_PANIC"

// crashOnPanicMain runs in a child process: a supervisor with
// WithCrashOnPanic whose child panics.
func crashOnPanicMain() {
	s, err := supervisor.New("root", []child.Spec{{ID: "p", Service: child.Func(func(ctx context.Context) error {
		panic("deliberate crash")
	})}}, supervisor.WithCrashOnPanic())
	if err != nil {
		os.Exit(3)
	}
	_ = s.Serve(context.Background())
	os.Exit(4) // not reached: the panic ends the process
}

// Panics: WithCrashOnPanic lets a child's panic crash the process, with the
// panic value and the child's own stack in the crash report.
func TestCrashOnPanic(t *testing.T) {
	if os.Getenv(crashEnv) == "1" {
		crashOnPanicMain()
		return
	}
	cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^TestCrashOnPanic$")
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("child process: %v, want exit status 2 (a crash)\n%s", err, out)
	}
	if !strings.Contains(string(out), "panic: deliberate crash") || !strings.Contains(string(out), "crash_test.go") {
		t.Fatalf("crash output lacks the panic or its stack:\n%s", out)
	}
}
