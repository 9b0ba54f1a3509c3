package proc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for a zero Config field.
const (
	// DefaultShutdown is how long a process has between its stop signal and
	// SIGKILL when Config.Shutdown is 0 (OTP's worker default, Pebble's
	// kill-delay).
	DefaultShutdown = 5 * time.Second
	// DefaultUptime is the readiness of a process with no readiness probe:
	// it is ready once it has stayed up this long (supervisord's startsecs).
	DefaultUptime = time.Second
	// DefaultReadyTimeout bounds the wait for readiness when
	// Readiness.Timeout is 0.
	DefaultReadyTimeout = 30 * time.Second
	// DefaultRing is how many log lines a process keeps for arbor logs.
	DefaultRing = 1000
	// DefaultWaitDelay bounds the wait for a process's output pipes once it
	// has exited: a grandchild that inherited them cannot hold a stop up.
	DefaultWaitDelay = time.Second
	// MaxLine is the longest log line kept whole; longer ones are split.
	MaxLine = 64 << 10
	// StderrTail is how many stderr lines a crash report carries.
	StderrTail = 20
)

// Config declares one OS process. The zero value of every field but Command
// means its documented default.
type Config struct {
	Command  string            // the program, exec'd directly (no shell); looked up in PATH
	Args     []string          // its arguments
	Env      map[string]string // added to (or, with ClearEnv, replacing) arbor's environment
	EnvFile  string            // KEY=VALUE lines read at each start, before Env
	ClearEnv bool              // start from an empty environment
	Dir      string            // working directory; default arbor's
	User     string            // run as this user (name or uid); only when arbor runs as root

	// SuccessExitCodes are the exit codes of a normal exit. Default [0].
	SuccessExitCodes []int
	// StopSignal asks the process to stop. Default SIGTERM. A death by this
	// signal after arbor sent it is a normal stop.
	StopSignal syscall.Signal
	// Shutdown is the time between the stop signal and SIGKILL. Default
	// DefaultShutdown.
	Shutdown time.Duration
	// BrutalKill sends SIGKILL at once instead of the stop signal.
	BrutalKill bool
	// KillProcessOnly signals only the process, not its process group.
	KillProcessOnly bool

	Readiness Readiness
	Logs      Logs
}

// ReadinessKind says how a process tells it is ready.
type ReadinessKind uint8

const (
	// ReadyUptime: ready once it has stayed up Readiness.Uptime (default).
	ReadyUptime ReadinessKind = iota
	// ReadyFD: ready once it writes a newline on the inherited fd Readiness.FD (s6).
	ReadyFD
	// ReadySystemd: ready once it sends READY=1 to $NOTIFY_SOCKET.
	ReadySystemd
	// ReadyTCP: ready once Readiness.Addr accepts a connection.
	ReadyTCP
	// ReadyHTTP: ready once a GET of Readiness.URL answers 2xx.
	ReadyHTTP
	// ReadyExec: ready once the command Readiness.Exec exits 0.
	ReadyExec
)

var readinessNames = [...]string{"uptime", "notify fd", "notify systemd", "tcp", "http", "exec"}

// String names the kind as the tree file does.
func (k ReadinessKind) String() string {
	if int(k) < len(readinessNames) {
		return readinessNames[k]
	}
	return fmt.Sprintf("ReadinessKind(%d)", k)
}

// ReadyAtOnce as Readiness.Uptime makes a process ready as soon as it has
// started (uptime: 0s in a tree file).
const ReadyAtOnce time.Duration = -1

// Readiness is the start handshake of a process.
type Readiness struct {
	Kind    ReadinessKind
	Uptime  time.Duration // ReadyUptime; default DefaultUptime; ReadyAtOnce for none
	FD      int           // ReadyFD: 3 or more
	Addr    string        // ReadyTCP: host:port
	URL     string        // ReadyHTTP
	Exec    []string      // ReadyExec: command and arguments
	Timeout time.Duration // how long to wait; default DefaultReadyTimeout
}

// LogMode says where one output stream of a process goes.
type LogMode uint8

const (
	// LogCapture: line by line into arbor's log and the ring buffer (default).
	LogCapture LogMode = iota
	// LogInherit: straight to arbor's own stdout or stderr.
	LogInherit
	// LogDiscard: nowhere.
	LogDiscard
	// LogFile: appended to the file Stream.Path.
	LogFile
)

// Stream is the destination of one output stream.
type Stream struct {
	Mode LogMode
	Path string // LogFile
}

// Logs says where a process's output goes.
type Logs struct {
	Stdout, Stderr Stream
	Ring           int // lines kept for arbor logs; default DefaultRing
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if len(c.SuccessExitCodes) == 0 {
		c.SuccessExitCodes = []int{0}
	}
	if c.StopSignal == 0 {
		c.StopSignal = syscall.SIGTERM
	}
	if c.Shutdown == 0 {
		c.Shutdown = DefaultShutdown
	}
	if c.Readiness.Kind == ReadyUptime && c.Readiness.Uptime == 0 {
		c.Readiness.Uptime = DefaultUptime
	}
	if c.Readiness.Timeout == 0 {
		c.Readiness.Timeout = DefaultReadyTimeout
	}
	if c.Logs.Ring == 0 {
		c.Logs.Ring = DefaultRing
	}
	return c
}

// Equal reports whether c and d declare the same process, defaults applied.
func (c Config) Equal(d Config) bool {
	c, d = c.WithDefaults(), d.WithDefaults()
	if len(c.Env) != len(d.Env) {
		return false
	}
	for k, v := range c.Env {
		if w, ok := d.Env[k]; !ok || w != v {
			return false
		}
	}
	return c.Command == d.Command && slices.Equal(c.Args, d.Args) && c.EnvFile == d.EnvFile &&
		c.ClearEnv == d.ClearEnv && c.Dir == d.Dir && c.User == d.User &&
		slices.Equal(c.SuccessExitCodes, d.SuccessExitCodes) && c.StopSignal == d.StopSignal &&
		c.Shutdown == d.Shutdown && c.BrutalKill == d.BrutalKill && c.KillProcessOnly == d.KillProcessOnly &&
		c.Readiness.Kind == d.Readiness.Kind && c.Readiness.Uptime == d.Readiness.Uptime &&
		c.Readiness.FD == d.Readiness.FD && c.Readiness.Addr == d.Readiness.Addr &&
		c.Readiness.URL == d.Readiness.URL && slices.Equal(c.Readiness.Exec, d.Readiness.Exec) &&
		c.Readiness.Timeout == d.Readiness.Timeout && c.Logs == d.Logs
}

// signalNames maps the signals a tree file may name, without the SIG prefix.
var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "ALRM": syscall.SIGALRM,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "WINCH": syscall.SIGWINCH,
	"ABRT": syscall.SIGABRT, "PWR": syscall.SIGPWR,
}

// ParseSignal parses a signal name such as "SIGTERM", "TERM" or "term", or a
// number such as "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q (want a name such as SIGTERM, or a number)", s)
}

// SignalName returns "SIGTERM" for syscall.SIGTERM, and so on.
func SignalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return "SIG" + name
		}
	}
	return fmt.Sprintf("signal %d", int(sig))
}
