// Command grpc is an example of a gRPC server in an arbor tree: the server is
// a supervised child that is ready once it listens and stops gracefully within
// its stop deadline; a bidirectional stream forwards each message to a backend
// child and goes on through the backend's restarts; and the standard gRPC
// health service reports the tree's readiness.
//
//	go run . -addr 127.0.0.1:50051
//
// The tree:
//
//	grpc (one_for_one)
//	├── backend  upper-cases text; a message "crash" makes it crash, and it is restarted
//	├── health   keeps the gRPC health status in step with the tree's readiness
//	└── server   the gRPC server: Shout (bidirectional stream) and grpc.health.v1.Health
//
// It is a module of its own, so that arbor itself does not depend on gRPC.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/daemon"
)

const exitUsage = 64

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// run is main without the process.
func run(ctx context.Context, args []string, stderr io.Writer, opts ...daemon.Option) int {
	fs := flag.NewFlagSet("grpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:50051", "where the gRPC server listens")
	budget := fs.Duration("shutdown-budget", daemon.DefaultShutdownBudget, "total time the shutdown may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *budget <= 0 {
		fmt.Fprintln(stderr, "grpc: no arguments; -shutdown-budget must be positive")
		return exitUsage
	}
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(stderr)), zapcore.InfoLevel))
	defer func() { _ = log.Sync() }()
	app, err := newApp(Config{Addr: *addr, Budget: *budget, Log: log})
	if err != nil {
		log.Error("cannot build the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	return daemon.Run(ctx, app.Root, append([]daemon.Option{daemon.WithLogger(log), daemon.WithShutdownBudget(*budget)}, opts...)...)
}
