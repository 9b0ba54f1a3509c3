// Command reload is an example of live reconfiguration: a child that watches
// a configuration file and applies it to a running tree with
// supervisor.Supervisor.Apply.
//
//	go run ./examples/reload -config examples/reload/testdata/greeters.json -poll 1s
//
// Edit the file, or send SIGHUP, and the reloader applies it: removed
// greeters stop, changed ones restart, added ones start, the others keep
// running. It logs "configuration applied" (and writes the -ack file) only
// once the new tree runs. A bad file is rejected whole and logged, and the
// tree goes on as it was; so is a file whose new children fail to start,
// after the previous configuration is restored. One change is applied at a
// time: the next waits for it.
//
// The tree:
//
//	reload (one_for_one)
//	├── app      the greeters from the file
//	└── watcher  the Reloader, applying the file to app
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/supervisor"
)

const exitUsage = 64

func main() {
	hup := make(chan os.Signal, 1) // buffered: signal.Notify does not wait
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr, hup))
}

// run is main without the process: hup delivers SIGHUP.
func run(ctx context.Context, args []string, stderr io.Writer, hup <-chan os.Signal, opts ...daemon.Option) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the configuration file (required)")
	poll := fs.Duration("poll", time.Second, "how often to read the file for a change (0: SIGHUP only)")
	ack := fs.String("ack", "", "a file to write the applied configuration's hash to")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 || *poll < 0 {
		fmt.Fprintln(stderr, "reload: -config is required, -poll must not be negative, no arguments")
		return exitUsage
	}
	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	root, err := newTree(*path, log, func(r *Reloader) {
		r.Poll, r.Hangup, r.Ack = *poll, hup, *ack
	})
	if err != nil {
		log.Error("cannot build the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	return daemon.Run(ctx, root, append([]daemon.Option{daemon.WithLogger(log)}, opts...)...)
}

// newTree builds the tree from the file as it is now; set adjusts the
// reloader before it is declared.
func newTree(path string, log *zap.Logger, set func(*Reloader), opts ...supervisor.Option) (*supervisor.Supervisor, error) {
	// One logger for every parse: a Greeter holds it, and a new one would
	// make every greeter count as changed.
	greeterLog := log.Named("greeter")
	parseFile := func(data []byte) (supervisor.Config, error) { return parse(data, greeterLog) }
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := parseFile(data)
	if err != nil {
		return nil, err
	}
	app, err := supervisor.New("app", cfg.Children,
		supervisor.WithStrategy(cfg.Strategy), supervisor.WithIntensity(cfg.Intensity))
	if err != nil {
		return nil, err
	}
	r := &Reloader{Path: path, Target: app, Parse: parseFile, Log: log.Named("reloader")}
	if set != nil {
		set(r)
	}
	return supervisor.New("reload", []child.Spec{
		{ID: "app", Service: app},
		{ID: "watcher", Service: r, AwaitReady: true},
	}, append([]supervisor.Option{supervisor.WithLogger(log.Named("arbor"))}, opts...)...)
}

func newLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}
