package slogbridge

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/arborgo/arbor/child"
)

// PathKey is the key under which [ForChild] adds the child's path.
const PathKey = "path"

// NewHandler returns an slog.Handler that writes records to logger's core,
// named after logger (zapslog.WithName(logger.Name())) and then configured by
// opts. A nil logger discards everything, as zap.NewNop does.
func NewHandler(logger *zap.Logger, opts ...zapslog.HandlerOption) slog.Handler {
	if logger == nil {
		logger = zap.NewNop()
	}
	all := make([]zapslog.HandlerOption, 0, len(opts)+1)
	all = append(all, zapslog.WithName(logger.Name()))
	for _, o := range opts {
		if o != nil {
			all = append(all, o)
		}
	}
	return zapslog.NewHandler(logger.Core(), all...)
}

// New returns an *slog.Logger whose records are written by logger's core,
// with the fields bound on logger. See [NewHandler] for opts.
func New(logger *zap.Logger, opts ...zapslog.HandlerOption) *slog.Logger {
	return slog.New(NewHandler(logger, opts...))
}

// ForChild returns [New] for the supervised child running with ctx, with the
// child's path (such as "app/db/pool") added under [PathKey]. Outside a
// supervisor, where [child.Path] is empty, no path is added.
func ForChild(ctx context.Context, logger *zap.Logger, opts ...zapslog.HandlerOption) *slog.Logger {
	if logger == nil {
		logger = zap.NewNop()
	}
	if p := child.Path(ctx); p != "" {
		logger = logger.With(zap.String(PathKey, p))
	}
	return New(logger, opts...)
}
