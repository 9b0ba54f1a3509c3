//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package main

// takeTerminal does nothing where process groups are not available.
func takeTerminal() (restore func()) { return func() {} }
