package proc

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// ErrReaperActive: a process has one reaper at a time, since it owns every
// child's exit status.
var ErrReaperActive = errors.New("proc: a reaper is already active in this process")

var reaperActive atomic.Bool

// Reaper owns the exit statuses of every child of this process. One
// goroutine calls wait4(-1, WNOHANG) on each SIGCHLD and hands each status to
// the waiter registered for its pid; statuses of other processes (orphaned
// grandchildren reparented to arbor as a subreaper, or as PID 1 in a
// container) are reaped and dropped, so no zombie is ever left.
//
// A naive wait4(-1) loop beside exec.Cmd.Wait steals exit statuses (Wait then
// fails with ECHILD and the code is lost). Here every child is started with
// Reaper.Start, which registers the pid before the loop can reap it, and
// exec.Cmd.Wait is called only after the status has been delivered, to release
// the Cmd's pipes and goroutines. All processes of this program must therefore
// be started through the Reaper while it is active.
type Reaper struct {
	log  *zap.Logger
	sigs chan os.Signal
	done chan struct{} // closed by Close
	exit chan struct{} // closed when the loop returns

	// mu is held across a Start and its registration, and across a sweep,
	// so that a child that exits at once is never reaped unregistered.
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus // guarded by mu
	closed  bool                            // guarded by mu
}

// NewReaper makes this process a child subreaper (PR_SET_CHILD_SUBREAPER),
// so orphaned grandchildren are reparented to it, and starts reaping. Only one
// Reaper may be active at a time; Close it to stop reaping.
func NewReaper(log *zap.Logger) (*Reaper, error) {
	if !reaperActive.CompareAndSwap(false, true) {
		return nil, ErrReaperActive
	}
	if log == nil {
		log = zap.NewNop()
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn("cannot become a child subreaper; orphaned grandchildren go to init", zap.Error(err))
	}
	r := &Reaper{
		log:     log,
		sigs:    make(chan os.Signal, 1),
		done:    make(chan struct{}),
		exit:    make(chan struct{}),
		waiters: map[int]chan syscall.WaitStatus{},
	}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	// The loop returns when Close closes done.
	go r.loop()
	return r, nil
}

func (r *Reaper) loop() {
	defer close(r.exit)
	r.sweep() // children that exited before Notify took effect
	for {
		select {
		case <-r.sigs:
			r.sweep()
		case <-r.done:
			return
		}
	}
}

// sweep reaps every child that has exited. SIGCHLDs coalesce, so it loops
// until none is left.
func (r *Reaper) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- ws // buffered, one status per pid: never blocks
			continue
		}
		r.log.Debug("reaped an orphan", zap.Int("pid", pid), zap.Int("status", int(ws)))
	}
}

// Start starts cmd and returns the channel that receives its exit status.
// The caller must call cmd.Wait after receiving it, to release the Cmd's
// resources (Wait then reports ECHILD, which is expected, or ErrWaitDelay).
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("proc: reaper closed")
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// Close stops reaping: processes that exit afterwards stay zombies until
// this program exits. Close is idempotent.
func (r *Reaper) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	signal.Stop(r.sigs)
	close(r.done)
	<-r.exit
	reaperActive.Store(false)
}
