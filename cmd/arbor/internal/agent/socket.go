package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListenControl listens on the unix socket path for the control API. The
// socket is created with mode 0600, and connections from any user other
// than arbor's own (or root) are closed at once, as a second check where the
// file's mode cannot be trusted (a directory others can write to). A stale
// socket left by an arbor that died is replaced; a live one is an error.
func ListenControl(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another arbor is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
	}
	// The umask is process-wide: this runs before any process is started.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &peerListener{Listener: ln, uid: os.Geteuid(), allowRoot: true}, nil
}

// peerListener accepts only connections whose peer is uid (or root, if
// allowRoot).
type peerListener struct {
	net.Listener
	uid       int
	allowRoot bool
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := checkPeer(c, l.uid, l.allowRoot); err != nil {
			c.Close()
			continue
		}
		return c, nil
	}
}

// errPeer: the peer of a control connection is another user.
var errPeer = errors.New("control socket: connection from another user")

func checkPeer(c net.Conn, uid int, allowRoot bool) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errPeer
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return credErr
	}
	if int(cred.Uid) != uid && (cred.Uid != 0 || !allowRoot) {
		return errPeer
	}
	return nil
}
