// Command daemon is an example of a complete arbor daemon: an HTTP API, a
// worker pool and a database-like store in one supervision tree, run by
// daemon.Run, with health probes, a live tree view and pprof on a second,
// admin listener.
//
// On SIGINT or SIGTERM (or after -duration) it shuts down in four ordered
// phases, each within its own slice of the total budget: stop accepting
// connections, finish the requests in flight, drain the worker queue, close
// the store. A second signal forces the exit.
//
//	go run ./examples/daemon -port 8080 -admin-port 8081 -duration 30s
//
// Its exit codes are daemon.Run's (0 clean stop, 1 start failed, 2 the root
// gave up, 3 forced or over budget), and 64 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/daemon"
)

// exitUsage is the exit code for bad flags (sysexits' EX_USAGE), apart from
// daemon.Run's codes.
const exitUsage = 64

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// run is main without the process: it parses args, builds and runs the
// daemon, and returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8080, "port of the API on 127.0.0.1 (0: any free port)")
	adminPort := fs.Int("admin-port", 8081, "port of /livez, /readyz, /debug/arbor/ and /debug/pprof/ on 127.0.0.1 (0: any free port)")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: run until SIGINT or SIGTERM)")
	budget := fs.Duration("shutdown-budget", daemon.DefaultShutdownBudget, "total time the shutdown may take; keep it under the platform's kill timeout (Kubernetes: 30s)")
	workers := fs.Int("workers", 4, "worker goroutines")
	queue := fs.Int("queue", 64, "jobs the queue holds")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *workers <= 0 || *queue <= 0 || *budget <= 0 || *duration < 0 {
		fmt.Fprintln(stderr, "daemon: no arguments; -workers, -queue and -shutdown-budget must be positive, -duration not negative")
		return exitUsage
	}

	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	root, _, err := newTree(Config{
		Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)),
		Workers:   *workers,
		QueueSize: *queue,
		Budget:    *budget,
		Log:       log,
	})
	if err != nil {
		log.Error("cannot build the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}

	adminLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*adminPort)))
	if err != nil {
		log.Error("cannot listen for the admin endpoints", zap.Error(err))
		return daemon.ExitStartFailed
	}
	admin := &http.Server{Handler: adminHandler(root), ReadHeaderTimeout: 5 * time.Second}
	adminDone := make(chan struct{})
	// Ends when admin.Close is called below, after the tree has stopped.
	go func() {
		defer close(adminDone)
		_ = admin.Serve(adminLn)
	}()
	log.Info("admin endpoints", zap.String("livez", "http://"+adminLn.Addr().String()+"/livez"),
		zap.String("readyz", "http://"+adminLn.Addr().String()+"/readyz?verbose"),
		zap.String("tree", "http://"+adminLn.Addr().String()+"/debug/arbor/"))

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	code := daemon.Run(ctx, root, daemon.WithShutdownBudget(*budget), daemon.WithLogger(log))
	_ = admin.Close()
	<-adminDone
	return code
}

func newLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}
