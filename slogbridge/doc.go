// Package slogbridge lets code that logs with log/slog write into the zap
// logger an arbor tree already uses, so its records get the same encoder,
// level, sampling, outputs and bound fields as arbor's own reports.
//
// # Handing arbor a slog.Handler
//
// An application that logs with log/slog hands its handler to a supervisor
// with [ZapLogger], and gets arbor's reports through it, a panic's stack
// included (as a "stacktrace" attribute):
//
//	sup, err := supervisor.New("app", specs, supervisor.WithLogger(slogbridge.ZapLogger(handler)))
//
// # Bridging a logger
//
// [New] returns a *slog.Logger backed by go.uber.org/zap/exp/zapslog, writing
// to the core of a *zap.Logger. Fields bound with zap's With appear on every
// record, and the zap logger's name (see zap.Logger.Named) is kept:
//
//	log := slogbridge.New(zapLogger.Named("billing"))
//	log.Info("invoice sent", "invoice", id)
//
// [NewHandler] returns the slog.Handler itself, for code that builds its own
// slog.Logger or wraps handlers. Options are zapslog's (zapslog.WithName,
// zapslog.WithCaller, zapslog.WithCallerSkip, zapslog.AddStacktraceAt); they
// are applied after the name taken from the zap logger, so WithName replaces
// it. zapslog records a stack trace on records at slog.LevelError and above
// unless AddStacktraceAt says otherwise, and reports the caller only with
// WithCaller(true): those settings of the zap.Logger itself do not carry over,
// since the bridge writes to its core.
//
// Levels map down to zap's: below slog.LevelInfo is Debug, then Info, Warn,
// and Error for slog.LevelError and above. An slog record never panics or
// exits the process.
//
// # Children
//
// Inside a supervised child, [ForChild] adds the child's place in the tree,
// as [child.Path] returns it, under the key "path" ([PathKey]), the key arbor's
// own reports use:
//
//	func (w *worker) Serve(ctx context.Context) error {
//		log := slogbridge.ForChild(ctx, w.zap)
//		log.Info("connected", "addr", w.addr) // ... "path": "app/db"
//		...
//	}
//
// # Sampling
//
// Bridged records go through the zap core, so a sampling core (the default of
// zap.NewProductionConfig) drops repeated messages from slog code too. Do not
// count events by log lines; see the prom package for counters.
//
// zapslog is an experimental v0 module, which is why this bridge lives in a
// package of its own rather than in the supervisor package.
package slogbridge
