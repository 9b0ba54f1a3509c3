// Command arbor supervises OS processes declared in a tree file, with the
// semantics of Erlang/OTP supervisors: ordered, readiness-gated starts, restart
// types and strategies, restart intensity with escalation, and ordered stops
// within budgets. docs/cli.md documents every command, the file format, the exit
// codes and the signals.
package main

import (
	"os"

	"github.com/arborgo/arbor/cmd/arbor/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
