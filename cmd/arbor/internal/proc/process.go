// Package proc runs an OS process as a child of an arbor supervision tree.
//
// A Process is a child.Service: each call of Serve starts the program in a
// process group of its own (Setpgid), reports it ready to its supervisor once
// its readiness probe passes, and returns when it exits, classifying the exit:
// an exit code listed in Config.SuccessExitCodes is normal, as is a death by
// the stop signal arbor sent; anything else is an *ExitError naming the code
// or the signal, with the last lines the process wrote on stderr.
//
// Stopping (the supervisor cancels Serve's context) sends the stop signal to
// the whole group, and SIGKILL to the group once the child's budget runs out.
// The Reaper owns every exit status, so no zombie is ever left.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
)

// KillMargin is how long before the supervisor's stop deadline a process
// still running gets SIGKILL, so that it is killed and reaped rather than
// abandoned by its supervisor.
const KillMargin = 500 * time.Millisecond

// KillGrace is what a supervisor allows beyond a process's own budget for
// SIGKILL and the reaping that follows.
const KillGrace = 2 * time.Second

// ExitError is an abnormal exit of a process.
type ExitError struct {
	PID    int
	Code   int            // the exit code, if it exited
	Signal syscall.Signal // the signal that killed it, if one did
	Stderr []string       // its last lines on stderr, for the crash report
}

// Error names the code or the signal.
func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("process %d killed by %s", e.PID, SignalName(e.Signal))
	}
	return fmt.Sprintf("process %d exited with code %d", e.PID, e.Code)
}

// Process is one OS process declared by a Config, supervised as a child.
// Per-run state lives in Serve; the fields below are only for observers.
type Process struct {
	path   string
	cfg    Config
	reaper *Reaper
	log    *zap.Logger
	ring   *Ring

	mu     sync.Mutex
	pid    int    // guarded by mu; the running incarnation's pid, 0 if none
	status string // guarded by mu; the last STATUS= it sent (notify: systemd)
}

// New returns a Process for cfg at path in the tree (such as "root/db"),
// started through r and logging its output to log.
func New(path string, cfg Config, r *Reaper, log *zap.Logger) *Process {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	return &Process{path: path, cfg: cfg, reaper: r, log: log.With(zap.String("child", path)), ring: NewRing(cfg.Logs.Ring)}
}

// Spec returns the child.Spec that runs p under id with restart type rs:
// awaited, with the readiness timeout as its start budget, and a shutdown
// budget that leaves room for SIGKILL beyond the process's own.
func (p *Process) Spec(id string, rs child.Restart) child.Spec {
	shutdown := p.cfg.Shutdown + KillGrace
	if p.cfg.BrutalKill {
		shutdown = KillGrace
	}
	return child.Spec{ID: id, Service: p, Restart: rs, Shutdown: shutdown,
		AwaitReady: true, StartTimeout: p.cfg.Readiness.Timeout}
}

// Path returns p's path in the tree.
func (p *Process) Path() string { return p.path }

// Config returns p's configuration, defaults applied.
func (p *Process) Config() Config { return p.cfg }

// Logs returns p's ring of output lines.
func (p *Process) Logs() *Ring { return p.ring }

// PID returns the pid of the running incarnation, or 0.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Status returns the last STATUS= line a notify: systemd process sent.
func (p *Process) Status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Equal reports whether other is a Process with the same path and
// configuration, so that a reload leaves it running (supervisor.Equaler).
func (p *Process) Equal(other child.Service) bool {
	o, ok := other.(*Process)
	return ok && o.path == p.path && o.cfg.Equal(p.cfg)
}

type readyHookKey struct{}

// WithReadyHook returns a copy of ctx with which Serve calls hook, with the
// pid, once the process has passed its readiness check and before it tells
// its supervisor. If hook returns false the process is not reported ready:
// hook is expected to cancel the context then, so that the process stops.
func WithReadyHook(ctx context.Context, hook func(pid int) bool) context.Context {
	return context.WithValue(ctx, readyHookKey{}, hook)
}

// ErrNotRunning: the process has no running incarnation.
var ErrNotRunning = errors.New("proc: not running")

// Signal sends sig to the running incarnation's process group (or only to the
// process, under kill: process). It returns ErrNotRunning if there is none,
// or if the process is already gone.
func (p *Process) Signal(sig syscall.Signal) error {
	pid := p.PID()
	if pid == 0 {
		return ErrNotRunning
	}
	err := syscall.Kill(p.target(pid), sig)
	if errors.Is(err, syscall.ESRCH) {
		return ErrNotRunning
	}
	return err
}

// Kill sends SIGKILL to the running incarnation's whole process group: the
// forced shutdown.
func (p *Process) Kill() {
	if pid := p.PID(); pid != 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func (p *Process) target(pid int) int {
	if p.cfg.KillProcessOnly {
		return pid
	}
	return -pid
}

func (p *Process) setPID(pid int) {
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
}

func (p *Process) setStatus(s string) {
	p.mu.Lock()
	p.status = s
	p.mu.Unlock()
}

// Serve runs one incarnation of the process: see the package documentation.
func (p *Process) Serve(ctx context.Context) (err error) {
	cfg := p.cfg
	cmd := exec.Command(cfg.Command, cfg.Args...)
	cmd.Dir = cfg.Dir
	cmd.WaitDelay = DefaultWaitDelay
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	env, err := p.environ()
	if err != nil {
		return err
	}
	if cfg.User != "" {
		cred, err := credential(cfg.User)
		if err != nil {
			return err
		}
		cmd.SysProcAttr.Credential = cred
	}

	var cleanups []func()
	defer func() {
		for _, c := range slices.Backward(cleanups) {
			c()
		}
	}()

	// Readiness channels the process inherits.
	var notifyR, notifyW *os.File
	var notifyConn *net.UnixConn
	switch cfg.Readiness.Kind {
	case ReadyFD:
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { r.Close() })
		notifyW = w
		cmd.ExtraFiles = make([]*os.File, cfg.Readiness.FD-2)
		cmd.ExtraFiles[cfg.Readiness.FD-3] = w
		notifyR = r
	case ReadySystemd:
		dir, err := os.MkdirTemp("", "arbor-notify-")
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		sock := filepath.Join(dir, "notify.sock")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { conn.Close() })
		notifyConn = conn
		env = append(env, "NOTIFY_SOCKET="+sock)
	}
	cmd.Env = env

	// Output. The copying goroutines start in cmd.Start, before the pid is
	// known: the gate holds their first line until it is.
	gate := make(chan struct{})
	var writers []*lineWriter
	files := map[string]*rotatingFile{}
	for _, name := range []string{"stdout", "stderr"} {
		st := cfg.Logs.Stdout
		if name == "stderr" {
			st = cfg.Logs.Stderr
		}
		var w io.Writer
		switch st.Mode {
		case LogCapture:
			lw := &lineWriter{ring: p.ring, log: p.log, stream: name, now: time.Now, gate: gate}
			writers = append(writers, lw)
			w = lw
		case LogInherit:
			w = os.Stdout
			if name == "stderr" {
				w = os.Stderr
			}
		case LogFile:
			f := files[st.Path] // stdout and stderr may share a file
			if f == nil {
				var err error
				if f, err = openRotating(st.Path, LogFileMaxSize, LogFileBackups); err != nil {
					return fmt.Errorf("logs: %s: %w", name, err)
				}
				files[st.Path] = f
				cleanups = append(cleanups, func() { f.Close() })
			}
			w = f
		}
		if name == "stdout" {
			cmd.Stdout = w
		} else {
			cmd.Stderr = w
		}
	}

	exited, err := p.reaper.Start(cmd)
	if notifyW != nil {
		// The child has its copy now: with the parent's closed, the read
		// sees EOF once the child closes it or exits without a newline.
		notifyW.Close()
	}
	if err != nil {
		close(gate)
		return fmt.Errorf("start %s: %w", cfg.Command, err)
	}
	pid := cmd.Process.Pid
	for _, w := range writers {
		w.pid = pid
	}
	close(gate)
	p.setPID(pid)
	defer p.setPID(0)
	p.log.Info("process started", zap.Int("pid", pid), zap.String("command", cfg.Command))

	// The probe runs until it passes or probeCtx ends; Serve waits for it.
	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	// The probe goroutine ends when probeCtx ends or its channel is closed;
	// finishProbe does both and waits for it.
	go func() {
		defer close(probeDone)
		p.probe(probeCtx, notifyR, notifyConn, func() {
			if hook, ok := ctx.Value(readyHookKey{}).(func(int) bool); ok && !hook(pid) {
				return
			}
			child.Ready(ctx)
		})
	}()
	finishProbe := func() {
		stopProbe()
		if notifyR != nil {
			notifyR.Close() // unblocks the fd read
		}
		if notifyConn != nil {
			notifyConn.Close()
		}
		<-probeDone
	}

	var ws syscall.WaitStatus
	stopping := false
	select {
	case ws = <-exited:
		finishProbe()
		if !p.cfg.KillProcessOnly {
			// The leader is gone: the rest of its group goes with it, so a
			// restart does not meet a stale grandchild holding its port.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	case <-ctx.Done():
		stopping = true
		finishProbe()
		ws = p.stop(ctx, pid, exited)
	}
	_ = cmd.Wait()            // releases the pipes; the status went to the reaper (ECHILD)
	_ = cmd.Process.Release() // and the pidfd, which a failed Wait keeps
	for _, w := range writers {
		w.flush()
	}
	return p.classify(pid, ws, stopping)
}

// stop sends the stop signal, then SIGKILL at the budget, and returns the
// exit status. It returns once the process group is gone, or the SIGKILL
// has been sent and the leader reaped.
func (p *Process) stop(ctx context.Context, pid int, exited <-chan syscall.WaitStatus) syscall.WaitStatus {
	cfg := p.cfg
	sig := cfg.StopSignal
	if cfg.BrutalKill {
		sig = syscall.SIGKILL
	}
	target := p.target(pid)
	_ = syscall.Kill(target, sig)
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		_ = syscall.Kill(target, syscall.SIGCONT) // a stopped process must wake to see it
	}
	budget := cfg.Shutdown
	if dl, ok := child.StopDeadline(ctx); ok {
		// The whole tree's deadline may come before this process's own.
		if left := time.Until(dl) - KillMargin; left < budget {
			budget = max(left, 0)
		}
	}
	timer := time.NewTimer(budget)
	defer timer.Stop()
	var ws syscall.WaitStatus
	killed := false
	select {
	case ws = <-exited:
	case <-timer.C:
		killed = true
		p.log.Warn("process did not stop in time; killing its group", zap.Int("pid", pid),
			zap.Duration("budget", budget), zap.String("signal", SignalName(sig)))
		_ = syscall.Kill(target, syscall.SIGKILL)
		ws = <-exited
	}
	if cfg.KillProcessOnly {
		return ws
	}
	// The leader is gone; members of its group may remain. The OS gives no
	// event for a group emptying, so poll, bounded by the budget.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !killed && syscall.Kill(-pid, 0) == nil {
		select {
		case <-tick.C:
		case <-timer.C:
			killed = true
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return ws
}

// classify turns an exit status into Serve's result.
func (p *Process) classify(pid int, ws syscall.WaitStatus, stopping bool) error {
	switch {
	case ws.Exited():
		if slices.Contains(p.cfg.SuccessExitCodes, ws.ExitStatus()) {
			return nil
		}
		return &ExitError{PID: pid, Code: ws.ExitStatus(), Stderr: p.ring.Tail("stderr", pid, StderrTail)}
	case ws.Signaled():
		sig := ws.Signal()
		if stopping && (sig == p.cfg.StopSignal || sig == syscall.SIGKILL) {
			return nil // arbor's own stop
		}
		return &ExitError{PID: pid, Signal: sig, Stderr: p.ring.Tail("stderr", pid, StderrTail)}
	}
	return &ExitError{PID: pid, Code: -1}
}

// environ builds the process's environment.
func (p *Process) environ() ([]string, error) {
	var env []string
	if !p.cfg.ClearEnv {
		env = os.Environ()
	}
	if p.cfg.EnvFile != "" {
		fileEnv, err := readEnvFile(p.cfg.EnvFile)
		if err != nil {
			return nil, err
		}
		env = append(env, fileEnv...)
	}
	keys := make([]string, 0, len(p.cfg.Env))
	for k := range p.cfg.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.cfg.Env[k])
	}
	return env, nil
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("env_file: %w", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("env_file %s:%d: want KEY=VALUE", path, n)
		}
		env = append(env, strings.TrimSpace(k)+"="+strings.Trim(strings.TrimSpace(v), `"'`))
	}
	return env, sc.Err()
}

// credential resolves a user name or uid.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 && uid != os.Geteuid() {
		return nil, fmt.Errorf("user %q: arbor must run as root to start a process as another user", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// probe waits for the process to be ready and then calls ready. For
// notify: systemd it goes on reading STATUS= lines until conn is closed.
func (p *Process) probe(ctx context.Context, fdR *os.File, conn *net.UnixConn, ready func()) {
	r := p.cfg.Readiness
	switch r.Kind {
	case ReadyUptime:
		if r.Uptime == ReadyAtOnce {
			ready()
			return
		}
		t := time.NewTimer(r.Uptime)
		defer t.Stop()
		select {
		case <-t.C:
			ready()
		case <-ctx.Done():
		}
	case ReadyFD:
		// s6: ready at the first newline; EOF without one is never ready.
		if _, err := bufio.NewReader(fdR).ReadString('\n'); err == nil && ctx.Err() == nil {
			ready()
		}
	case ReadySystemd:
		buf := make([]byte, 4096)
		isReady := false
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l == "READY=1" && !isReady {
					isReady = true
					ready()
				} else if s, ok := strings.CutPrefix(l, "STATUS="); ok {
					p.setStatus(s)
				}
			}
		}
	default:
		if p.poll(ctx, r) {
			ready()
		}
	}
}

// poll runs a tcp, http or exec probe until it passes. Those probes give no
// event, so polling is the only way.
func (p *Process) poll(ctx context.Context, r Readiness) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		var ok bool
		switch r.Kind {
		case ReadyTCP:
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := d.DialContext(dctx, "tcp", r.Addr)
			cancel()
			if err == nil {
				c.Close()
				ok = true
			}
		case ReadyHTTP:
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
			if err == nil {
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
					ok = resp.StatusCode >= 200 && resp.StatusCode < 300
				}
			}
		case ReadyExec:
			ok = p.execProbe(ctx, r.Exec)
		}
		if ok {
			return true
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

// execProbe runs the probe command once, through the reaper, and reports
// whether it exited 0. It is killed if ctx ends first.
func (p *Process) execProbe(ctx context.Context, argv []string) bool {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = p.cfg.Dir
	exited, err := p.reaper.Start(cmd)
	if err != nil {
		p.log.Warn("readiness probe did not start", zap.Error(err))
		return false
	}
	var ws syscall.WaitStatus
	select {
	case ws = <-exited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		ws = <-exited
	}
	_ = cmd.Wait()
	_ = cmd.Process.Release()
	return ws.Exited() && ws.ExitStatus() == 0
}
