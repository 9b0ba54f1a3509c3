package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// Config is what the tree is built from.
type Config struct {
	Addr   string        // where the gRPC server listens, such as "127.0.0.1:0"
	Budget time.Duration // the whole shutdown's budget; the server gets most of it
	Log    *zap.Logger   // default none
	Hooks  []supervisor.Hook
}

// App is the tree and what its children share.
type App struct {
	Root    *supervisor.Supervisor
	backend *Backend
	health  *health.Server
	addr    atomic.Pointer[net.Addr] // where the server listens; nil while it does not
	poke    chan struct{}            // buffered (1): the tree changed, re-read its readiness
}

// Addr returns where the gRPC server listens, or nil while it does not.
func (a *App) Addr() net.Addr {
	if p := a.addr.Load(); p != nil {
		return *p
	}
	return nil
}

func newApp(cfg Config) (*App, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Budget <= 0 {
		return nil, errors.New("the shutdown budget must be positive")
	}
	a := &App{backend: newBackend(), health: health.NewServer(), poke: make(chan struct{}, 1)}
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	opts := []supervisor.Option{
		supervisor.WithLogger(cfg.Log.Named("arbor")),
		// Every event may change the tree's readiness: tell the health child.
		// A hook must not block: the poke is dropped if one is pending.
		supervisor.WithHook(func(supervisor.Event) {
			select {
			case a.poke <- struct{}{}:
			default:
			}
		}),
	}
	for _, h := range cfg.Hooks {
		opts = append(opts, supervisor.WithHook(h))
	}
	srv := &Server{Addr: cfg.Addr, Health: a.health, Backend: a.backend, Log: cfg.Log.Named("server"), bound: &a.addr}
	var err error
	a.Root, err = supervisor.New("grpc", []child.Spec{
		{ID: "backend", Service: a.backend, AwaitReady: true},
		{ID: "health", Service: child.Func(a.serveHealth), AwaitReady: true},
		{ID: "server", Service: srv, AwaitReady: true, Shutdown: cfg.Budget * 8 / 10},
	}, opts...)
	return a, err
}

// serveHealth keeps the gRPC health status in step with the tree: SERVING
// while the tree is ready (every supervisor has started its children, no
// shutdown under way, no child waiting to be restarted), NOT_SERVING
// otherwise. It reads the tree after every event.
func (a *App) serveHealth(ctx context.Context) error {
	child.Ready(ctx)
	for {
		select {
		case <-a.poke:
			status := healthpb.HealthCheckResponse_NOT_SERVING
			if treeReady(ctx, a.Root) {
				status = healthpb.HealthCheckResponse_SERVING
			}
			a.health.SetServingStatus("", status)
		case <-ctx.Done():
			a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			return nil
		}
	}
}

// treeReady is /readyz's verdict with health.WithRestartingUnready, for the
// gRPC health service.
func treeReady(ctx context.Context, root *supervisor.Supervisor) bool {
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	tree, err := root.Tree(tctx)
	if err != nil {
		return false
	}
	return subtreeReady(tree)
}

func subtreeReady(t *supervisor.Tree) bool {
	if !t.Ready || t.Stopping {
		return false
	}
	for _, c := range t.Children {
		if c.State == supervisor.StateRestarting {
			return false
		}
	}
	for _, sub := range t.Subtrees {
		if !subtreeReady(sub) {
			return false
		}
	}
	return true
}

// Backend upper-cases text, one request at a time. Its requests go through a
// channel shared by its incarnations, so a caller reaches whichever
// incarnation runs, and waits while it is being restarted.
type Backend struct {
	reqs chan request // unbuffered: a request is taken by a running incarnation
}

type request struct {
	text  string
	reply chan result // buffered (1): the backend never waits for the caller
}

type result struct {
	text string
	err  error
}

// errCrashed is what the backend returns when asked to crash.
var errCrashed = errors.New("backend: crashed on request")

func newBackend() *Backend { return &Backend{reqs: make(chan request)} }

// Serve answers requests until it is stopped; "crash" makes it reply with
// an error and crash, which its supervisor restarts.
func (b *Backend) Serve(ctx context.Context) error {
	child.Ready(ctx)
	for {
		select {
		case r := <-b.reqs:
			if r.text == "crash" {
				r.reply <- result{err: errCrashed}
				return errCrashed
			}
			r.reply <- result{text: strings.ToUpper(r.text)}
		case <-ctx.Done():
			return nil
		}
	}
}

// Do sends text to the backend and returns its answer. It waits while the
// backend is being restarted, up to ctx.
func (b *Backend) Do(ctx context.Context, text string) (string, error) {
	r := request{text: text, reply: make(chan result, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// Taken: the incarnation that took it always replies before it returns.
	res := <-r.reply
	return res.text, res.err
}
