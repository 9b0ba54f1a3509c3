package slogbridge

import (
	"context"
	"log/slog"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ZapLogger returns a *zap.Logger that writes to h: the way to hand a
// supervisor (supervisor.WithLogger) to an application that logs with
// log/slog, so arbor's reports go through the application's own handler.
// Levels map up to slog's (Debug, Info, Warn, Error; zap's DPanic and above
// are Error), fields become attributes, the logger's name becomes a "logger"
// attribute, and an entry's stack (a panic's, in arbor's reports) becomes a
// "stacktrace" attribute.
func ZapLogger(h slog.Handler) *zap.Logger {
	return zap.New(&slogCore{h: h})
}

// slogCore is a zapcore.Core over an slog.Handler.
type slogCore struct {
	h slog.Handler // with the attributes of the fields bound by With
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l < zapcore.InfoLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return &slogCore{h: c.h.WithAttrs(attrs(fields))}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(attrs(fields)...)
	if e.Stack != "" {
		r.AddAttrs(slog.String("stacktrace", e.Stack))
	}
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

// attrs turns zap fields into slog attributes, through zap's own encoding of
// each field, so every field type is handled.
func attrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	keys := make([]string, 0, len(fields))
	for _, f := range fields {
		f.AddTo(enc)
		if !slices.Contains(keys, f.Key) {
			keys = append(keys, f.Key)
		}
	}
	out := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		if v, ok := enc.Fields[k]; ok {
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}
