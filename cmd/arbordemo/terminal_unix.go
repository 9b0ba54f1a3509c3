//go:build linux || darwin || freebsd || netbsd || openbsd

package main

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// takeTerminal moves the process into a process group of its own and makes
// that group the terminal's foreground group, so that Ctrl-C reaches the
// demo alone, not make, which would otherwise die of the same SIGINT after
// the demo's clean exit and report it as a failure. It returns a function
// that gives the terminal back. Without a terminal on stdin it does nothing.
func takeTerminal() (restore func()) {
	noop := func() {}
	tty := int(os.Stdin.Fd())
	orig, err := tcgetpgrp(tty)
	if err != nil {
		return noop // not a terminal
	}
	// A background group that sets the foreground group gets SIGTTOU.
	signal.Ignore(syscall.SIGTTOU)
	if err := syscall.Setpgid(0, 0); err != nil {
		signal.Reset(syscall.SIGTTOU)
		return noop
	}
	if err := tcsetpgrp(tty, syscall.Getpgrp()); err != nil {
		_ = syscall.Setpgid(0, orig)
		signal.Reset(syscall.SIGTTOU)
		return noop
	}
	return func() {
		_ = tcsetpgrp(tty, orig)
		signal.Reset(syscall.SIGTTOU)
	}
}

func tcgetpgrp(fd int) (int, error) {
	var pgrp int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(syscall.TIOCGPGRP), uintptr(unsafe.Pointer(&pgrp))); errno != 0 {
		return 0, errno
	}
	return int(pgrp), nil
}

func tcsetpgrp(fd, pgrp int) error {
	p := int32(pgrp)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(syscall.TIOCSPGRP), uintptr(unsafe.Pointer(&p))); errno != 0 {
		return errno
	}
	return nil
}
