// Package cli is the arbor command: it supervises OS processes declared in a
// tree file, with the semantics of Erlang/OTP supervisors: ordered,
// readiness-gated starts, restart types and strategies, restart intensity with
// escalation, and ordered stops within budgets. docs/cli.md documents every
// command, the file format, the exit codes and the signals.
//
// The arbor binary is [Main] and nothing else. Another binary can run the same
// command with more built in: arbor-etcd (in the module
// github.com/arborgo/arbor/cluster/etcd) is Main with a cluster engine.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/arborgo/arbor/daemon"
)

// Exit codes, shared with package daemon: 0 clean stop, 1 start failed or
// a command failed, 2 the root gave up or the tree file is invalid, 3 forced.
const (
	exitOK      = daemon.ExitOK
	exitFailed  = daemon.ExitStartFailed
	exitInvalid = daemon.ExitGaveUp
)

// exitError carries a process exit code up to main.
type exitError struct {
	code int
	err  error // printed if not nil
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// Main runs the arbor command line args (without the program name), writing
// to stdout and stderr, and returns the process exit code:
//
//	func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
func Main(args []string, stdout, stderr io.Writer, opts ...Option) int {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cmd := newRootCmd(&o)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintln(stderr, "arbor:", ee.err)
		}
		return ee.code
	default:
		fmt.Fprintln(stderr, "arbor:", err)
		return exitFailed
	}
}

type globalFlags struct {
	socket string
}

func newRootCmd(o *options) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "arbor",
		Short:         "Supervise OS processes with Erlang/OTP supervision trees",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.socket, "socket", defaultSocket(), "the control socket (env ARBOR_SOCKET)")
	root.AddCommand(newValidateCmd(o), newNamesCmd(g))
	addRunCmd(root, g, o)
	addClientCmds(root, g)
	return root
}

// defaultSocket is $ARBOR_SOCKET, else $XDG_RUNTIME_DIR/arbor.sock, else
// /tmp/arbor-<uid>.sock.
func defaultSocket() string {
	if s := os.Getenv("ARBOR_SOCKET"); s != "" {
		return s
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d + "/arbor.sock"
	}
	return fmt.Sprintf("%s/arbor-%d.sock", os.TempDir(), os.Getuid())
}
