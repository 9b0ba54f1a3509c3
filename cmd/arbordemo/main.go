// Command arbordemo shows supervision end to end, in a terminal and on the
// live tree page:
//
//	root (one_for_one, backoff between restarts)
//	├── admin    the tree page and the probes, on -addr (httpchild)
//	├── ticker   logs a tick every second
//	├── flaky    fails every -crash-every, alternately with an error and a
//	│            panic; root restarts it after a growing backoff delay
//	└── db       a nested supervisor (rest_for_one, 1 restart in 5 s)
//	    ├── pool
//	    └── cache  panics -cache-crash after it starts, in its first two runs:
//	               db restarts it once, then gives up; root restarts db
//
// The supervisors' reports are printed as they happen, in colour on a
// terminal. It stops cleanly, in reverse start order, on SIGINT or SIGTERM
// and by itself after -duration, exiting 0; a second signal forces the exit.
// The exit code is daemon.Run's.
//
//	make demo    # builds bin/arbordemo and runs it for 30 s
//	go build -o bin/arbordemo ./cmd/arbordemo && bin/arbordemo -duration 0
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

	"github.com/cenkalti/backoff/v4"
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

// exitUsage is the exit code for bad flags (sysexits' EX_USAGE).
const exitUsage = 64

func main() {
	restore := func() {}
	if os.Getenv("ARBORDEMO_OWN_TERMINAL") != "" {
		restore = takeTerminal() // make demo sets it: see takeTerminal
	}
	code := run(context.Background(), os.Args[1:], os.Stderr)
	restore()
	os.Exit(code)
}

// config is what the flags set.
type config struct {
	addr       string
	crashEvery time.Duration
	cacheCrash time.Duration
}

// run parses args, serves the demo tree with daemon.Run until SIGINT,
// SIGTERM, the end of ctx or of -duration, and returns daemon.Run's exit
// code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("arbordemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	duration := fs.Duration("duration", 30*time.Second, "stop by itself after this long (0: run until a signal)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "where the tree page listens (port 0: any free port)")
	fs.DurationVar(&c.crashEvery, "crash-every", 600*time.Millisecond, "how long the flaky child runs before it fails")
	fs.DurationVar(&c.cacheCrash, "cache-crash", 3*time.Second, "how long the cache runs before it panics, in its first two runs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *duration < 0 || c.crashEvery <= 0 || c.cacheCrash < 0 {
		fmt.Fprintln(stderr, "arbordemo: no arguments; -crash-every must be positive, -duration and -cache-crash not negative")
		return exitUsage
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	root, err := tree(log, c)
	if err != nil {
		log.Error("building the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	log.Info("demo running; press Ctrl-C to stop", zap.Duration("duration", *duration))
	return daemon.Run(ctx, root, daemon.WithLogger(log), daemon.WithShutdownBudget(5*time.Second))
}

// newLogger writes console lines to w, with coloured levels only if w is a
// terminal.
func newLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	if isTerminal(w) {
		cfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// tree builds the demo tree drawn in the package comment.
func tree(log *zap.Logger, c config) (*supervisor.Supervisor, error) {
	// Logs each restart on a line of its own, with the incarnation it starts.
	restarts := supervisor.WithHook(func(ev supervisor.Event) {
		if ev.Kind == supervisor.ChildStarted && ev.Incarnation > 1 {
			log.Info("child restarted", zap.String("path", ev.Supervisor+"/"+ev.Child), zap.Uint64("incarnation", ev.Incarnation))
		}
	})
	var cacheRuns atomic.Int32
	db, err := supervisor.New("db", []child.Spec{
		{ID: "pool", Service: resource("pool", log), AwaitReady: true},
		{ID: "cache", Service: cache(&cacheRuns, c.cacheCrash), AwaitReady: true},
	}, supervisor.WithStrategy(strategy.RestForOne), supervisor.WithLogger(log), restarts)
	if err != nil {
		return nil, err
	}
	newBackoff := func() supervisor.BackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 100 * time.Millisecond
		b.MaxInterval = time.Second
		b.MaxElapsedTime = 0
		return b
	}

	mux := http.NewServeMux()
	admin := httpchild.New(&http.Server{Addr: c.addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second})
	root, err := supervisor.New("root", []child.Spec{
		{ID: "admin", Service: admin, AwaitReady: true}, // first to start, last to stop
		{ID: "ticker", Service: ticker(log), AwaitReady: true},
		{ID: "flaky", Service: flaky(c.crashEvery), AwaitReady: true},
		{ID: "db", Service: db, Kind: child.KindSupervisor},
	},
		supervisor.WithLogger(log),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 20, Period: 10 * time.Second}),
		supervisor.WithBackoff(newBackoff),
		restarts,
		supervisor.WithHook(func(ev supervisor.Event) {
			if ev.Kind == supervisor.ChildStarted && ev.Supervisor == "root" && ev.Child == "admin" {
				if a := admin.Addr(); a != nil {
					log.Info("tree page: http://" + a.String() + "/debug/arbor/")
				}
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	health.Register(mux, root)
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))
	return root, nil
}

func ticker(log *zap.Logger) child.Func {
	return func(ctx context.Context) error {
		child.Ready(ctx)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				log.Info("tick", zap.String("path", child.Path(ctx)), zap.Int("n", n))
			}
		}
	}
}

// flaky fails after a while, alternately with an error and a panic.
func flaky(after time.Duration) child.Func {
	n := 0
	return func(ctx context.Context) error {
		n++ // incarnations run one at a time, so this counter needs no lock
		child.Ready(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(after):
		}
		if n%2 == 0 {
			panic(fmt.Sprintf("flaky: incarnation %d gave up", n))
		}
		return errors.New("flaky: lost its connection")
	}
}

// cache panics after a while in its first two runs, then runs until stopped.
func cache(runs *atomic.Int32, after time.Duration) child.Func {
	return func(ctx context.Context) error {
		child.Ready(ctx)
		n := runs.Add(1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(after):
		}
		if n <= 2 {
			panic(fmt.Sprintf("cache: corrupted entry (run %d)", n))
		}
		<-ctx.Done()
		return nil
	}
}

func resource(name string, log *zap.Logger) child.Func {
	return func(ctx context.Context) error {
		log.Info("opening", zap.String("resource", name))
		child.Ready(ctx)
		<-ctx.Done()
		if d, ok := child.StopDeadline(ctx); ok {
			log.Info("closing", zap.String("resource", name), zap.Duration("budget_left", time.Until(d).Round(time.Millisecond)))
		}
		return nil
	}
}
