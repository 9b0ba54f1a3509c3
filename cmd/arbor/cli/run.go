package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arborgo/arbor/cmd/arbor/internal/agent"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/daemon"
)

type runFlags struct {
	config          string
	shutdownTimeout time.Duration
	httpAddr        string
	pprof           bool
	logFormat       string
}

func addRunCmd(root *cobra.Command, g *globalFlags, o *options) {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run -c tree.yaml",
		Short: "Run the tree in the foreground until SIGINT or SIGTERM",
		Long: `Run starts the processes of the tree file in order, each once the one before
it is ready, keeps them running as their supervisors decide, and serves the
control socket (--socket) and a loopback HTTP listener (--http) with /livez,
/readyz, /metrics and the tree page at /debug/arbor/.

It never daemonizes itself: run it under systemd, Kubernetes or s6.

The first SIGINT or SIGTERM stops the tree in reverse start order within the
shutdown budget (shutdown_timeout in the file, default 25s: inside
Kubernetes' default 30s grace period); a second one kills every process group
and exits 3. SIGHUP reloads the tree file.

Exit codes: 0 clean stop, 1 the tree failed to start, 2 the root supervisor
gave up (restart intensity exceeded) or the tree file is invalid, 3 forced by a
second signal or the shutdown overran its budget.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd, g, f, o) },
	}
	cmd.Flags().StringVarP(&f.config, "config", "c", "tree.yaml", "the tree file")
	cmd.Flags().DurationVar(&f.shutdownTimeout, "shutdown-timeout", 0, "the whole tree's stop budget (default: shutdown_timeout in the file, else 25s)")
	cmd.Flags().StringVar(&f.httpAddr, "http", "127.0.0.1:9273", `the admin listener (livez, readyz, metrics, tree page); "" for none`)
	cmd.Flags().BoolVar(&f.pprof, "pprof", false, "serve /debug/pprof/ on the admin listener")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "console", "console or json")
	root.AddCommand(cmd)
}

func newLogger(format string) (*zap.Logger, error) {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "console":
		enc = zapcore.NewConsoleEncoder(cfg)
	case "json":
		enc = zapcore.NewJSONEncoder(cfg)
	default:
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zap.InfoLevel)), nil
}

func runDaemon(cmd *cobra.Command, g *globalFlags, f *runFlags, o *options) error {
	log, err := newLogger(f.logFormat)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	defer log.Sync() //nolint:errcheck // stderr
	tree, err := treefile.ReadFile(f.config)
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), err)
		return &exitError{code: exitInvalid}
	}
	for _, w := range tree.Warnings {
		log.Warn(w.Error())
	}
	var agentOpts []agent.Option
	var engineLost <-chan struct{} // the engine's Lost, if any
	if tree.Cluster != nil {
		if o.connect == nil {
			fmt.Fprintln(cmd.ErrOrStderr(), errNoEngine(tree))
			return &exitError{code: exitInvalid}
		}
		e, err := o.connectEngine(context.Background(), tree, log.Named("cluster"))
		if err != nil {
			return err
		}
		if e.Close != nil {
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := e.Close(ctx); err != nil {
					log.Warn("closing the cluster engine", zap.Error(err))
				}
			}()
		}
		agentOpts = append(agentOpts, agent.WithCluster(agent.Cluster{Elector: e.Elector, Names: names{e.Names}}))
		engineLost = e.Lost
	}
	budget := tree.ShutdownTimeout
	if f.shutdownTimeout > 0 {
		budget = f.shutdownTimeout
	}

	ln, err := agent.ListenControl(g.socket)
	if err != nil {
		return err
	}
	defer os.Remove(g.socket)
	var admin net.Listener
	if f.httpAddr != "" {
		if admin, err = net.Listen("tcp", f.httpAddr); err != nil {
			ln.Close()
			return fmt.Errorf("--http: %w", err)
		}
	}

	reaper, err := proc.NewReaper(log.Named("reaper"))
	if err != nil {
		return err
	}
	defer reaper.Close()
	a, err := agent.New(tree, f.config, reaper, log.Named("arbor"), agentOpts...)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	stop := make(chan struct{})
	defer close(stop) // runs before wg.Wait: ends the goroutines below

	ctlSrv := &http.Server{Handler: a.Handler(stop), ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() { _ = ctlSrv.Serve(ln) }) // ends on ctlSrv.Close
	defer ctlSrv.Close()
	if admin != nil {
		adminSrv := &http.Server{Handler: a.AdminHandler(f.pprof), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() { _ = adminSrv.Serve(admin) }) // ends on adminSrv.Close
		defer adminSrv.Close()
		log.Info("admin listener", zap.String("addr", admin.Addr().String()))
	}
	log.Info("control socket", zap.String("path", g.socket))

	// Signals: SIGHUP reloads; SIGINT and SIGTERM go on to daemon.Run, and
	// the second one first kills every process group.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	toDaemon := make(chan os.Signal, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg.Go(func() { // ends when stop is closed
		n := 0
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					wg.Go(func() { reloadOnHUP(ctx, a, log) }) // ends with the reload; cancel ends it early
					continue
				}
				n++
				if n == 1 {
					sdNotify("STOPPING=1")
				} else {
					log.Error("forced shutdown: killing every process group", zap.String("signal", sig.String()))
					a.KillAll()
				}
				select {
				case toDaemon <- sig:
				default:
				}
			case <-stop:
				return
			}
		}
	})
	// The node's membership of the cluster ended: stop the tree as for
	// SIGTERM, and exit 1 once it has stopped.
	var lost atomic.Bool
	if engineLost != nil {
		wg.Go(func() { // ends when stop is closed
			select {
			case <-engineLost:
				lost.Store(true)
				log.Error("cluster session lost: the cluster no longer holds this node's names; stopping the tree (exit 1)")
				sdNotify("STOPPING=1")
				select {
				case toDaemon <- syscall.SIGTERM:
				default:
				}
			case <-stop:
			}
		})
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		events, unsubscribe := a.Subscribe()
		wg.Go(func() { // ends when stop is closed
			defer unsubscribe()
			ready := a.Root().Ready()
			for {
				select {
				case <-ready:
					ready = nil
					sdNotify("READY=1\nSTATUS=" + a.Summary(ctx))
				case <-events:
					sdNotify("STATUS=" + a.Summary(ctx))
				case <-stop:
					return
				}
			}
		})
	}

	code := daemon.Run(ctx, a.Root(), daemon.WithLogger(log), daemon.WithShutdownBudget(budget), daemon.WithSignals(toDaemon))
	if code == exitOK && lost.Load() {
		code = exitFailed
	}
	if code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

func reloadOnHUP(ctx context.Context, a *agent.Agent, log *zap.Logger) {
	plan, err := a.Reload(ctx, false)
	var tf treefile.Errors
	switch {
	case errors.As(err, &tf):
		log.Error("reload rejected; the running tree is unchanged\n" + tf.Error())
	case err != nil:
		log.Error("reload failed", zap.Error(err))
	default:
		log.Info("reload applied", zap.Strings("added", plan.Added), zap.Strings("removed", plan.Removed), zap.Strings("changed", plan.Changed))
	}
}

// sdNotify sends state to systemd when arbor runs under it (NOTIFY_SOCKET).
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
