// Command hello is the first arbor program to copy: a root supervisor with a
// nested db supervisor and an HTTP server, run by daemon.Run.
//
//	root (one_for_one)
//	├── db (rest_for_one, a supervisor: root waits until it is ready)
//	│   ├── pool    ready once "connected" (-pool-delay)
//	│   └── cache   panics -crash-after after it starts, its first -crashes runs
//	└── api         HTTP on -addr, started only once db is ready
//
// Run it and watch the log: the cache's first panic is restarted by db; its
// second, within db's restart intensity (the default, 1 restart in 5 s), makes
// db give up, and root restarts the whole db subtree (escalation). The tree
// page the log links to shows it live. Ctrl-C stops everything in reverse
// order and exits 0.
//
//	go run ./examples/hello
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/httpchild"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/treeview"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "where the API and the tree page listen")
	poolDelay := fs.Duration("pool-delay", time.Second, "how long the pool takes to connect")
	crashAfter := fs.Duration("crash-after", 2*time.Second, "how long the cache runs before it panics")
	crashes := fs.Int("crashes", 2, "how many times the cache panics")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: on Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 64
	}
	if fs.NArg() > 0 || *poolDelay < 0 || *crashAfter < 0 || *crashes < 0 || *duration < 0 {
		fmt.Fprintln(stderr, "hello: no arguments; -pool-delay, -crash-after, -crashes and -duration must not be negative")
		return 64
	}

	// Logs on stderr; arbor's supervisors and daemon.Run report through it.
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.AddSync(stderr), zapcore.InfoLevel))
	defer func() { _ = log.Sync() }()

	// A hook sees every event of the supervisor it is given to; this one logs
	// each restart in a line of its own.
	restarts := supervisor.WithHook(func(ev supervisor.Event) {
		if ev.Kind == supervisor.ChildStarted && ev.Incarnation > 1 {
			log.Info("child restarted", zap.String("path", ev.Supervisor+"/"+ev.Child), zap.Uint64("incarnation", ev.Incarnation))
		}
	})

	// The db subtree: the pool must be ready before the cache starts, and
	// rest_for_one restarts the cache whenever the pool restarts.
	var crashed atomic.Int32
	db, err := supervisor.New("db", []child.Spec{
		{ID: "pool", Service: child.Func(func(ctx context.Context) error {
			select { // "connecting"
			case <-time.After(*poolDelay):
			case <-ctx.Done():
				return nil
			}
			child.Ready(ctx) // the cache, and then api, may start now
			<-ctx.Done()
			return nil
		}), AwaitReady: true},
		{ID: "cache", Service: child.Func(func(ctx context.Context) error {
			select {
			case <-time.After(*crashAfter):
				if crashed.Add(1) <= int32(*crashes) {
					panic("cache: corrupted entry") // a bug: the supervisor contains it
				}
				<-ctx.Done()
			case <-ctx.Done():
			}
			return nil
		})},
	}, supervisor.WithStrategy(strategy.RestForOne), supervisor.WithLogger(log), restarts)
	if err != nil {
		log.Error("bad tree", zap.Error(err))
		return daemon.ExitStartFailed
	}

	// The HTTP server: the API, the probes and the live tree page. root is
	// declared below; the handlers only use it once it runs.
	var root *supervisor.Supervisor
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from", child.Path(r.Context()))
	})
	api := httpchild.New(&http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second})

	root, err = supervisor.New("root", []child.Spec{
		{ID: "db", Service: db, Kind: child.KindSupervisor}, // awaited: api starts once db is ready
		{ID: "api", Service: api, AwaitReady: true},         // ready once it accepts connections
	},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 3, Period: 10 * time.Second}),
		supervisor.WithLogger(log),
		restarts,
		supervisor.WithHook(func(ev supervisor.Event) {
			if ev.Kind == supervisor.ChildStarted && ev.Supervisor == "root" && ev.Child == "api" {
				if a := api.Addr(); a != nil {
					log.Info("tree page: http://" + a.String() + "/debug/arbor/")
				}
			}
		}))
	if err != nil {
		log.Error("bad tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	health.Register(mux, root)
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	// Until Ctrl-C or SIGTERM (a second one forces the exit), then a
	// shutdown in reverse start order; the exit code says how it ended.
	return daemon.Run(ctx, root, daemon.WithLogger(log))
}
