package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
)

// helperEnv names the mode in which TestMain runs the test binary as a
// daemon instead of running tests.
const helperEnv = "ARBOR_DAEMON_TEST_HELPER"

// helperMain is the re-executed binary's main: a daemon with real signal
// handling. It prints "ready" on stdout once the tree has started, and
// "stopping" when its stuck child is asked to stop.
func helperMain(mode string) int {
	say := func(s string) { fmt.Fprintln(os.Stdout, s) }
	ready := supervisor.WithHook(func(ev supervisor.Event) {
		if ev.Kind == supervisor.SupervisorReady && ev.Supervisor == "root" {
			say("ready")
		}
	})
	var specs []child.Spec
	opts := []supervisor.Option{ready}
	switch mode {
	case "clean":
		specs = []child.Spec{{ID: "web", AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			return nil
		})}}
	case "forced":
		specs = []child.Spec{{ID: "stuck", AwaitReady: true, Shutdown: child.Infinity, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			say("stopping")
			select {} // ignores the stop until the process exits
		})}}
	case "gaveup":
		specs = []child.Spec{{ID: "flaky", Service: child.Func(func(ctx context.Context) error {
			return errors.New("cannot connect")
		})}}
		opts = append(opts, supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 2, Period: 60e9}))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 125
	}
	root, err := supervisor.New("root", specs, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	return daemon.Run(context.Background(), root)
}

// daemonProcess is a re-executed test binary running helperMain.
type daemonProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    io.Reader
	lines  *bufio.Scanner
	stderr bytes.Buffer
}

func startProcess(t *testing.T, mode string) *daemonProcess {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	p := &daemonProcess{t: t, cmd: cmd}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out, p.lines = out, bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// expect reads stdout until the line want.
func (p *daemonProcess) expect(want string) {
	p.t.Helper()
	for p.lines.Scan() {
		if p.lines.Text() == want {
			return
		}
	}
	p.t.Fatalf("daemon ended its output before %q (%v); stderr:\n%s", want, p.lines.Err(), p.stderr.String())
}

func (p *daemonProcess) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, sig); err != nil {
		p.t.Fatal(err)
	}
}

// exitCode drains stdout, waits for the process and returns its exit code.
func (p *daemonProcess) exitCode() int {
	p.t.Helper()
	_, _ = io.Copy(io.Discard, p.out)
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestProcessCleanStopOnSIGTERM(t *testing.T) {
	p := startProcess(t, "clean")
	p.expect("ready")
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(); code != daemon.ExitOK {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, daemon.ExitOK, p.stderr.String())
	}
	for _, want := range []string{"shutdown requested", "terminated", "stopped", `"exit_code": 0`} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
}

func TestProcessSecondSignalForces(t *testing.T) {
	p := startProcess(t, "forced")
	p.expect("ready")
	p.signal(syscall.SIGTERM)
	p.expect("stopping")
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != daemon.ExitForced {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, daemon.ExitForced, p.stderr.String())
	}
	for _, want := range []string{"forced shutdown", "still running", "root/stuck"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
}

func TestProcessRootGaveUp(t *testing.T) {
	p := startProcess(t, "gaveup")
	if code := p.exitCode(); code != daemon.ExitGaveUp {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, daemon.ExitGaveUp, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "root supervisor gave up") {
		t.Errorf("stderr lacks the give-up report:\n%s", p.stderr.String())
	}
}
