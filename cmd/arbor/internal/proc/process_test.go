package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// helper is the path of the test helper binary, built by TestMain.
var helper string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbor-proc-test-")
	if err != nil {
		panic(err)
	}
	helper = filepath.Join(dir, "helper")
	// Built before any Reaper exists: a reaper would take go build's children.
	if out, err := exec.Command("go", "build", "-o", helper, "./testdata/helper").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("building the helper: %v\n%s", err, out))
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// failsafe bounds every wait in these tests; it is never a timing assertion.
const failsafe = 30 * time.Second

type fixture struct {
	t      *testing.T
	reaper *Reaper
	log    *zap.Logger
	logs   *observer.ObservedLogs
	events chan supervisor.Event
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r, err := NewReaper(nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	f := &fixture{t: t, reaper: r, log: zap.New(core), logs: logs, events: make(chan supervisor.Event, 1000)}
	t.Cleanup(func() {
		r.Close()
		assertNoZombies(t)
	})
	return f
}

func sh(script string) Config {
	return Config{Command: "/bin/sh", Args: []string{"-c", script}}
}

// start runs procs under a one_for_one (or st) supervisor and waits until it
// has started them.
func (f *fixture) start(st strategy.Strategy, procs ...*Process) (*supervisor.Supervisor, error) {
	f.t.Helper()
	var specs []child.Spec
	for _, p := range procs {
		specs = append(specs, p.Spec(filepath.Base(p.Path()), child.Permanent))
	}
	sup, err := supervisor.New("root", specs, supervisor.WithStrategy(st),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 10, Period: time.Minute}),
		supervisor.WithHook(func(ev supervisor.Event) { f.events <- ev }))
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	err = sup.Start(ctx)
	if err == nil {
		f.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), failsafe)
			defer cancel()
			_ = sup.Stop(ctx)
		})
	} else {
		<-sup.Done()
	}
	return sup, err
}

func (f *fixture) proc(name string, cfg Config) *Process {
	return New("root/"+name, cfg, f.reaper, f.log)
}

// waitEvent returns the next event for which match is true.
func (f *fixture) waitEvent(match func(supervisor.Event) bool) supervisor.Event {
	f.t.Helper()
	timeout := time.NewTimer(failsafe)
	defer timeout.Stop()
	for {
		select {
		case ev := <-f.events:
			if match(ev) {
				return ev
			}
		case <-timeout.C:
			f.t.Fatal("event not seen")
		}
	}
}

func is(k supervisor.EventKind, id string) func(supervisor.Event) bool {
	return func(ev supervisor.Event) bool { return ev.Kind == k && ev.Child == id }
}

// waitLine waits until p has written a line containing s, and returns it.
func waitLine(t *testing.T, p *Process, s string) string {
	t.Helper()
	timeout := time.NewTimer(failsafe)
	defer timeout.Stop()
	var seq uint64
	for {
		lines, changed := p.Logs().Since(seq, 0)
		for _, l := range lines {
			if strings.Contains(l.Text, s) {
				return l.Text
			}
			seq = l.Seq
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("line %q not seen", s)
		}
	}
}

// assertNoZombies fails if a child of this process is a zombie. Reaping
// gives the test no event, so it polls, bounded.
func assertNoZombies(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for {
		z := zombies()
		if len(z) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("zombie children left: %v", z)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombies() []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[0] == "Z" && fields[1] == strconv.Itoa(me) {
			out = append(out, pid)
		}
	}
	return out
}

func alive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func TestKill9IsRestartedAndReported(t *testing.T) {
	f := newFixture(t)
	p := f.proc("a", sh("echo up >&3; exec sleep 1000"))
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	if _, err := f.start(strategy.OneForOne, p); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := f.waitEvent(is(supervisor.ChildExited, "a"))
	var ee *ExitError
	if !errors.As(ev.Err, &ee) || ee.Signal != syscall.SIGKILL || ee.PID != pid || !ev.Restarted {
		t.Fatalf("exit event = %+v; want a restart after SIGKILL of %d", ev, pid)
	}
	if !strings.Contains(ev.Err.Error(), "SIGKILL") {
		t.Errorf("report %q does not name the signal", ev.Err)
	}
	f.waitEvent(is(supervisor.ChildStarted, "a"))
	if np := p.PID(); np == 0 || np == pid {
		t.Errorf("pid after restart = %d (before %d)", np, pid)
	}
}

func TestStopKillsTheGroup(t *testing.T) {
	f := newFixture(t)
	// The grandchild ignores nothing, but only a group signal reaches it.
	p := f.proc("a", sh("sleep 1000 & echo grandchild $!; echo >&3; wait"))
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	sup, err := f.start(strategy.OneForOne, p)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := strconv.Atoi(strings.Fields(waitLine(t, p, "grandchild"))[1])
	if err != nil || !alive(gc) {
		t.Fatalf("grandchild %d not running: %v", gc, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := sup.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// stop returns once the whole group is gone and reaped.
	if alive(gc) {
		t.Errorf("grandchild %d survived the stop", gc)
	}
}

func TestIgnoringTermIsKilledAtItsBudget(t *testing.T) {
	f := newFixture(t)
	p := f.proc("a", Config{Command: helper, Args: []string{"ignore-term"}, Shutdown: 200 * time.Millisecond,
		Readiness: Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}})
	sup, err := f.start(strategy.OneForOne, p)
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := sup.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want the process killed, not abandoned", err)
	}
	if alive(pid) {
		t.Errorf("process %d still alive", pid)
	}
	if n := f.logs.FilterMessageSnippet("did not stop in time").Len(); n != 1 {
		t.Errorf("%d reports of the kill; want 1", n)
	}
	ev := f.waitEvent(is(supervisor.ChildStopped, "a"))
	if ev.Err != nil {
		t.Errorf("stopped with %v", ev.Err)
	}
}

func TestOrphansAreReaped(t *testing.T) {
	f := newFixture(t)
	// The subshell's child is orphaned at once and reparented to this process.
	p := f.proc("a", sh("(sleep 0 &); (exit 0 &); echo >&3; exec sleep 1000"))
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	if _, err := f.start(strategy.OneForOne, p); err != nil {
		t.Fatal(err)
	}
	assertNoZombies(t)
}

func TestExitClassification(t *testing.T) {
	f := newFixture(t)
	ok := f.proc("ok", sh("exit 3"))
	ok.cfg.SuccessExitCodes = []int{0, 3}
	ok.cfg.Readiness = Readiness{Kind: ReadyUptime, Uptime: ReadyAtOnce, Timeout: failsafe}
	bad := f.proc("bad", sh("echo boom >&2; exit 4"))
	bad.cfg.Readiness = Readiness{Kind: ReadyUptime, Uptime: ReadyAtOnce, Timeout: failsafe}
	specs := []child.Spec{ok.Spec("ok", child.Transient), bad.Spec("bad", child.Transient)}
	sup, err := supervisor.New("root", specs,
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 100, Period: time.Hour}),
		supervisor.WithHook(func(ev supervisor.Event) { f.events <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	ev := f.waitEvent(is(supervisor.ChildExited, "ok"))
	if ev.Err != nil || ev.Restarted {
		t.Errorf("exit 3 listed as success: %+v", ev)
	}
	ev = f.waitEvent(is(supervisor.ChildExited, "bad"))
	var ee *ExitError
	if !errors.As(ev.Err, &ee) || ee.Code != 4 || !ev.Restarted || len(ee.Stderr) != 1 || ee.Stderr[0] != "boom" {
		t.Errorf("exit 4: %+v (%#v)", ev, ee)
	}
	if !strings.Contains(ev.Err.Error(), "code 4") {
		t.Errorf("report %q does not name the code", ev.Err)
	}
}

func TestReadiness(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends when ln is closed
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	marker := filepath.Join(t.TempDir(), "ready")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"fd", Config{Command: "/bin/sh", Args: []string{"-c", "echo >&5; exec sleep 1000"}, Readiness: Readiness{Kind: ReadyFD, FD: 5}}},
		{"systemd", Config{Command: helper, Args: []string{"notify", "serving"}, Readiness: Readiness{Kind: ReadySystemd}}},
		{"tcp", Config{Command: "sleep", Args: []string{"1000"}, Readiness: Readiness{Kind: ReadyTCP, Addr: ln.Addr().String()}}},
		{"http", Config{Command: "sleep", Args: []string{"1000"}, Readiness: Readiness{Kind: ReadyHTTP, URL: srv.URL}}},
		{"exec", Config{Command: "sleep", Args: []string{"1000"}, Readiness: Readiness{Kind: ReadyExec, Exec: []string{"test", "-e", marker}}}},
		{"uptime", Config{Command: "sleep", Args: []string{"1000"}, Readiness: Readiness{Kind: ReadyUptime, Uptime: 10 * time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.cfg.Readiness.Timeout = failsafe
			p := f.proc("a", tc.cfg)
			sup, err := f.start(strategy.OneForOne, p)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), failsafe)
			defer cancel()
			infos, err := sup.Children(ctx)
			if err != nil || infos[0].State != supervisor.StateRunning {
				t.Errorf("children = %+v, %v", infos, err)
			}
			if tc.name == "systemd" && p.Status() != "serving" {
				t.Errorf("STATUS = %q", p.Status())
			}
		})
	}
}

func TestReadinessTimeoutAndEarlyExit(t *testing.T) {
	f := newFixture(t)
	never := f.proc("never", Config{Command: "sleep", Args: []string{"1000"},
		Readiness: Readiness{Kind: ReadyFD, FD: 3, Timeout: 100 * time.Millisecond}})
	_, err := f.start(strategy.OneForOne, never)
	if !errors.Is(err, supervisor.ErrStartTimeout) {
		t.Errorf("start = %v; want a start timeout", err)
	}
	early := f.proc("early", Config{Command: "/bin/sh", Args: []string{"-c", "echo nope >&2; exit 7"},
		Readiness: Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}})
	_, err = f.start(strategy.OneForOne, early)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || len(ee.Stderr) != 1 {
		t.Errorf("start = %v; want exit code 7 with its stderr", err)
	}
}

func TestRestForOneRestartsTheLaterProcesses(t *testing.T) {
	f := newFixture(t)
	cfg := sh("echo >&3; exec sleep 1000")
	cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	a, b, c := f.proc("a", cfg), f.proc("b", cfg), f.proc("c", cfg)
	if _, err := f.start(strategy.RestForOne, a, b, c); err != nil {
		t.Fatal(err)
	}
	pa, pb, pc := a.PID(), b.PID(), c.PID()
	if err := syscall.Kill(pb, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.waitEvent(is(supervisor.ChildExited, "b"))
	f.waitEvent(is(supervisor.ChildStarted, "b"))
	f.waitEvent(is(supervisor.ChildStarted, "c"))
	if a.PID() != pa || b.PID() == pb || c.PID() == pc || alive(pc) {
		t.Errorf("pids a %d→%d, b %d→%d, c %d→%d; want only b and c replaced", pa, a.PID(), pb, b.PID(), pc, c.PID())
	}
}

func TestSignal(t *testing.T) {
	f := newFixture(t)
	p := f.proc("a", sh("trap 'echo got usr1' USR1; echo >&3; while :; do sleep 0.05; done"))
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	if err := p.Signal(syscall.SIGUSR1); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal before start = %v", err)
	}
	if _, err := f.start(strategy.OneForOne, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitLine(t, p, "got usr1")
}

func TestOrphansComeToTheSubreaper(t *testing.T) {
	f := newFixture(t)
	p := f.proc("a", sh("(sleep 1000 & echo orphan $!); echo >&3; exec sleep 1000"))
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	p.cfg.KillProcessOnly = true
	if _, err := f.start(strategy.OneForOne, p); err != nil {
		t.Fatal(err)
	}
	orphan, _ := strconv.Atoi(strings.Fields(waitLine(t, p, "orphan"))[1])
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if fields[1] != strconv.Itoa(os.Getpid()) {
		t.Errorf("orphan's parent is %s; want this process (a subreaper)", fields[1])
	}
	killAndAwaitReaped(t, orphan)
}

// killAndAwaitReaped kills an orphan of this process and waits until the
// reaper has reaped it. Reaping gives the test no event: it polls, bounded.
func killAndAwaitReaped(t *testing.T, pid int) {
	t.Helper()
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(failsafe)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d not reaped", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWaitDelayBoundsAnInheritedPipe(t *testing.T) {
	f := newFixture(t)
	// The grandchild keeps stdout open after its parent exits; only kill:
	// process leaves it running, so only WaitDelay lets Serve return.
	p := f.proc("a", sh("sleep 1000 & echo bg $!; exit 0"))
	p.cfg.KillProcessOnly = true
	p.cfg.Readiness = Readiness{Kind: ReadyUptime, Uptime: ReadyAtOnce, Timeout: failsafe}
	specs := []child.Spec{p.Spec("a", child.Transient)}
	sup, err := supervisor.New("root", specs, supervisor.WithHook(func(ev supervisor.Event) { f.events <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	bg, _ := strconv.Atoi(strings.Fields(waitLine(t, p, "bg"))[1])
	defer killAndAwaitReaped(t, bg)
	ev := f.waitEvent(is(supervisor.ChildExited, "a"))
	if ev.Err != nil {
		t.Errorf("exit = %v", ev.Err)
	}
}

func TestLineWriter(t *testing.T) {
	r := NewRing(3)
	w := &lineWriter{ring: r, log: zap.NewNop(), stream: "stdout", pid: 1, now: time.Now}
	long := strings.Repeat("x", MaxLine+5)
	fmt.Fprintf(w, "a\r\nb")
	fmt.Fprintf(w, "c\n%s\n", long)
	w.flush()
	lines, _ := r.Since(0, 0)
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%d:%d", l.Seq, len(l.Text)))
	}
	// "a" is pushed out of the ring of 3; "bc", then the long line in two.
	if want := "2:2 3:65536 4:5"; strings.Join(got, " ") != want {
		t.Errorf("lines = %v; want %s", got, want)
	}
	if tail := r.Tail("stdout", 1, 1); len(tail) != 1 || tail[0] != "xxxxx" {
		t.Errorf("tail = %q", tail)
	}
}

func TestOneReaperAtATime(t *testing.T) {
	r, err := NewReaper(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewReaper(nil); !errors.Is(err, ErrReaperActive) {
		t.Errorf("second reaper: %v", err)
	}
	r.Close()
	r.Close()
	r2, err := NewReaper(nil)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM, "KILL": syscall.SIGKILL, "10": syscall.SIGUSR1} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "99", "-1"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) accepted", in)
		}
	}
}

func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	r, err := openRotating(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"aaaaaa\n", "bbbbbb\n", "cccccc\n", "dddddd\n"} {
		if _, err := r.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	for name, want := range map[string]string{"out.log": "dddddd\n", "out.log.1": "cccccc\n", "out.log.2": "bbbbbb\n"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more backups than asked for")
	}
}

func TestLogFile(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "a.log")
	p := f.proc("a", sh("echo out; echo err >&2; exit 0"))
	p.cfg.Logs.Stdout = Stream{Mode: LogFile, Path: path}
	p.cfg.Logs.Stderr = Stream{Mode: LogFile, Path: path}
	p.cfg.Readiness = Readiness{Kind: ReadyUptime, Uptime: ReadyAtOnce, Timeout: failsafe}
	specs := []child.Spec{p.Spec("a", child.Transient)}
	sup, err := supervisor.New("root", specs, supervisor.WithHook(func(ev supervisor.Event) { f.events <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	f.waitEvent(is(supervisor.ChildExited, "a"))
	b, err := os.ReadFile(path)
	if err != nil || (string(b) != "out\nerr\n" && string(b) != "err\nout\n") {
		t.Errorf("log file = %q, %v", b, err)
	}
}

func TestEnvironment(t *testing.T) {
	f := newFixture(t)
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nA=from-file\nexport B='quoted'\n\nC=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARBOR_TEST_INHERITED", "yes")
	dir := t.TempDir()
	for _, tc := range []struct {
		clear bool
		want  string
	}{{false, "env from-file quoted env yes " + dir}, {true, "env from-file quoted env " + dir}} {
		p := f.proc("a", sh(`echo env $A $B $C $ARBOR_TEST_INHERITED $(pwd); echo >&3; exec sleep 1000`))
		p.cfg.Command = "sh" // looked up in arbor's PATH, even with clear_env
		p.cfg.EnvFile, p.cfg.ClearEnv, p.cfg.Dir = envFile, tc.clear, dir
		p.cfg.Env = map[string]string{"C": "env"}
		p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
		sup, err := f.start(strategy.OneForOne, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := waitLine(t, p, "env "); got != tc.want {
			t.Errorf("clear_env %v: %q; want %q", tc.clear, got, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), failsafe)
		sup.Stop(ctx)
		cancel()
	}

	bad := f.proc("bad", sh("exit 0"))
	bad.cfg.EnvFile = filepath.Join(dir, "missing")
	if _, err := f.start(strategy.OneForOne, bad); err == nil || !strings.Contains(err.Error(), "env_file") {
		t.Errorf("missing env_file: %v", err)
	}
}

func TestUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	f := newFixture(t)
	p := f.proc("a", sh("echo uid $(id -u); echo >&3; exec sleep 1000"))
	p.cfg.User = "65534"
	p.cfg.Readiness = Readiness{Kind: ReadyFD, FD: 3, Timeout: failsafe}
	if _, err := f.start(strategy.OneForOne, p); err != nil {
		t.Fatal(err)
	}
	if got := waitLine(t, p, "uid "); got != "uid 65534" {
		t.Errorf("%q; want uid 65534", got)
	}
}
