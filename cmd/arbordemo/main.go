// Command arbordemo runs a small supervision tree in which one child keeps
// crashing and is contained: its supervisor restarts it with a backoff while
// its siblings run on. The supervisor's reports are printed as they happen.
// It stops cleanly, in reverse start order, on SIGINT or SIGTERM and by
// itself after -duration; a second signal forces the exit. The exit code is
// daemon.Run's.
//
//	go run ./cmd/arbordemo -duration 8s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

func main() {
	duration := flag.Duration("duration", 8*time.Second, "stop by itself after this long (0: run until a signal)")
	crashEvery := flag.Duration("crash-every", 600*time.Millisecond, "how long the flaky child runs before it fails")
	flag.Parse()
	os.Exit(run(*duration, *crashEvery))
}

// run serves the demo tree with daemon.Run: until SIGINT, SIGTERM or the
// end of duration, then a reverse-order shutdown within 5 s. It returns
// daemon.Run's exit code.
func run(duration, crashEvery time.Duration) int {
	ctx := context.Background()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	cfg := zap.NewDevelopmentConfig()
	cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	cfg.DisableStacktrace = true
	cfg.DisableCaller = true
	log, err := cfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "arbordemo:", err)
		return daemon.ExitStartFailed
	}
	defer func() { _ = log.Sync() }()

	root, err := tree(log, crashEvery)
	if err != nil {
		log.Error("building the tree", zap.Error(err))
		return daemon.ExitStartFailed
	}
	log.Info("demo running; press Ctrl-C to stop", zap.Duration("duration", duration))
	return daemon.Run(ctx, root, daemon.WithLogger(log), daemon.WithShutdownBudget(5*time.Second))
}

// tree builds: root (one_for_one) → ticker, flaky, db (rest_for_one) → pool, cache.
func tree(log *zap.Logger, crashEvery time.Duration) (*supervisor.Supervisor, error) {
	db, err := supervisor.New("db", []child.Spec{
		{ID: "pool", Service: resource("pool", log), AwaitReady: true},
		{ID: "cache", Service: resource("cache", log), AwaitReady: true},
	}, supervisor.WithStrategy(strategy.RestForOne), supervisor.WithLogger(log))
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
	return supervisor.New("root", []child.Spec{
		{ID: "ticker", Service: ticker(log), AwaitReady: true},
		{ID: "flaky", Service: flaky(crashEvery), AwaitReady: true},
		{ID: "db", Service: db, Kind: child.KindSupervisor},
	},
		supervisor.WithLogger(log),
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 20, Period: 10 * time.Second}),
		supervisor.WithBackoff(newBackoff),
	)
}

func ticker(log *zap.Logger) child.Func {
	return func(ctx context.Context) error {
		child.Ready(ctx)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
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
			return ctx.Err()
		case <-time.After(after):
		}
		if n%2 == 0 {
			panic(fmt.Sprintf("flaky: incarnation %d gave up", n))
		}
		return errors.New("flaky: lost its connection")
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
