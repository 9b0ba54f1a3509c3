// Command daemon is an example of a complete arbor daemon: an HTTP API, a
// worker pool and a database-like store in one supervision tree, run by
// daemon.Run, with health probes, a live tree view and pprof on a second,
// admin listener.
//
// On SIGINT or SIGTERM (or after -duration) it turns unready at once and
// goes on serving for -shutdown-delay (5s behind a Kubernetes Service, 0
// by default), then shuts down in three ordered phases, each within its own
// slice of the rest of the budget: stop accepting connections and finish the
// requests in flight, drain the worker queue, close the store. A second
// signal forces the exit. The admin listener answers throughout (/readyz
// with 503) and closes last, waiting for its own requests.
//
//	go run ./examples/daemon -port 8080 -admin-port 8081 -duration 30s
//
// To watch the tree contain a crash: curl -X POST
// 'localhost:8081/debug/crash?child=store', then look at the log, the tree
// page (localhost:8081/debug/arbor/) and localhost:8081/metrics.
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
	"github.com/arborgo/arbor/prom"
	"github.com/arborgo/arbor/supervisor"
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
	host := fs.String("host", "127.0.0.1", "address both listeners bind to (in a container: 0.0.0.0, so the kubelet's probes reach the admin port)")
	port := fs.Int("port", 8080, "port of the API on -host (0: any free port)")
	adminPort := fs.Int("admin-port", 8081, "port of /livez, /readyz, /debug/arbor/ and /debug/pprof/ on -host (0: any free port)")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: run until SIGINT or SIGTERM)")
	budget := fs.Duration("shutdown-budget", daemon.DefaultShutdownBudget, "total time the shutdown may take, delay included; keep it under the platform's kill timeout (Kubernetes: 30s)")
	delay := fs.Duration("shutdown-delay", 0, "after a signal, stay unready but serving this long before stopping ("+daemon.KubernetesShutdownDelay.String()+" behind a Kubernetes Service)")
	workers := fs.Int("workers", 4, "worker goroutines")
	queue := fs.Int("queue", 64, "jobs the queue holds")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *workers <= 0 || *queue <= 0 || *budget <= 0 || *duration < 0 || *delay < 0 || *delay >= *budget {
		fmt.Fprintln(stderr, "daemon: no arguments; -workers, -queue and -shutdown-budget must be positive, -duration and -shutdown-delay not negative, -shutdown-delay shorter than -shutdown-budget")
		return exitUsage
	}
	// The admin listener closes last, within a slice of the budget of its
	// own; the tree has the rest.
	adminBudget := *budget / 20
	treeBudget := *budget - adminBudget
	if *delay >= treeBudget {
		fmt.Fprintln(stderr, "daemon: -shutdown-delay leaves no time to stop")
		return exitUsage
	}

	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	metrics := prom.NewCollector()
	root, app, err := newTree(Config{
		Addr:      net.JoinHostPort(*host, strconv.Itoa(*port)),
		Workers:   *workers,
		QueueSize: *queue,
		Budget:    treeBudget,
		Delay:     *delay,
		Log:       log,
		Hooks:     []supervisor.Hook{metrics.Hook()},
	})
	if err != nil {
		log.Error("cannot build the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	metrics.Watch(root)

	adminLn, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*adminPort)))
	if err != nil {
		log.Error("cannot listen for the admin endpoints", zap.Error(err))
		return daemon.ExitStartFailed
	}
	admin := &http.Server{Handler: adminHandler(root, app, metrics), ReadHeaderTimeout: 5 * time.Second}
	adminDone := make(chan struct{})
	// Ends when admin.Shutdown or Close is called below, after the tree has
	// stopped.
	go func() {
		defer close(adminDone)
		_ = admin.Serve(adminLn)
	}()
	log.Info("admin endpoints", zap.String("livez", "http://"+adminLn.Addr().String()+"/livez"),
		zap.String("readyz", "http://"+adminLn.Addr().String()+"/readyz?verbose"),
		zap.String("tree", "http://"+adminLn.Addr().String()+"/debug/arbor/"),
		zap.String("metrics", "http://"+adminLn.Addr().String()+"/metrics"))

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	code := daemon.Run(ctx, root, daemon.WithShutdownBudget(treeBudget), daemon.WithShutdownDelay(*delay), daemon.WithLogger(log))

	// The tree has stopped; the admin endpoints go last, finishing the
	// requests they are answering within their slice.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminBudget)
	defer cancel()
	if err := admin.Shutdown(actx); err != nil {
		log.Warn("admin endpoints: requests cut at the end of their budget", zap.Error(err), zap.Duration("budget", adminBudget))
		_ = admin.Close()
	}
	<-adminDone
	return code
}

func newLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}
