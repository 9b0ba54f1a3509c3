package slogbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/slogbridge"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds every wait in a test, so a bug fails the test instead of
// hanging it; it is not a timing assertion.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

// only returns the single entry logged, or fails the test.
func only(t *testing.T, logs *observer.ObservedLogs) observer.LoggedEntry {
	t.Helper()
	all := logs.TakeAll()
	if len(all) != 1 {
		t.Fatalf("%d entries logged, want 1: %v", len(all), all)
	}
	return all[0]
}

func checkFields(t *testing.T, e observer.LoggedEntry, want map[string]any) {
	t.Helper()
	got := e.ContextMap()
	if !maps.EqualFunc(got, want, func(a, b any) bool {
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			return maps.Equal(am, bm)
		}
		return a == b
	}) {
		t.Errorf("fields of %q = %v, want %v", e.Message, got, want)
	}
}

func TestNew(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	log := slogbridge.New(zl.Named("app").With(zap.String("node", "n1")))

	log.Info("cache warmed", "entries", 42, slog.String("tier", "hot"), slog.Bool("cold", false))
	e := only(t, logs)
	if e.Message != "cache warmed" || e.Level != zapcore.InfoLevel || e.LoggerName != "app" {
		t.Errorf("entry = %q at %v from %q, want %q at info from %q", e.Message, e.Level, e.LoggerName, "cache warmed", "app")
	}
	checkFields(t, e, map[string]any{"node": "n1", "entries": int64(42), "tier": "hot", "cold": false})

	// Attributes bound on the slog side and groups carry over too.
	log.With("request", "r1").WithGroup("db").Warn("slow query", "table", "users", "ms", 120)
	e = only(t, logs)
	if e.Level != zapcore.WarnLevel {
		t.Errorf("level = %v, want warn", e.Level)
	}
	checkFields(t, e, map[string]any{"node": "n1", "request": "r1", "db": map[string]any{"table": "users", "ms": int64(120)}})
}

func TestHandlerOptions(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	log := slogbridge.New(zl.Named("app"), zapslog.WithName("thirdparty"), nil)
	log.Info("hello")
	if e := only(t, logs); e.LoggerName != "thirdparty" {
		t.Errorf("logger name = %q, want %q (WithName replaces the zap name)", e.LoggerName, "thirdparty")
	}

	h := slogbridge.NewHandler(zl, zapslog.WithCaller(true))
	slog.New(h).Info("with caller")
	if e := only(t, logs); !e.Caller.Defined {
		t.Errorf("caller not recorded with WithCaller(true)")
	}
}

func TestLevels(t *testing.T) {
	zl, logs := observed(zapcore.InfoLevel)
	log := slogbridge.New(zl)
	ctx := context.Background()
	if log.Enabled(ctx, slog.LevelDebug) {
		t.Errorf("debug enabled on an info core")
	}
	if !log.Enabled(ctx, slog.LevelInfo) {
		t.Errorf("info not enabled on an info core")
	}
	log.Debug("dropped")
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d entries after Debug on an info core, want 0", n)
	}
	for _, tt := range []struct {
		level slog.Level
		want  zapcore.Level
	}{
		{slog.LevelInfo, zapcore.InfoLevel},
		{slog.LevelInfo + 2, zapcore.InfoLevel},
		{slog.LevelWarn, zapcore.WarnLevel},
		{slog.LevelError, zapcore.ErrorLevel},
		{slog.LevelError + 8, zapcore.ErrorLevel}, // never DPanic, Panic or Fatal
	} {
		log.Log(ctx, tt.level, "msg")
		if e := only(t, logs); e.Level != tt.want {
			t.Errorf("slog %v logged at %v, want %v", tt.level, e.Level, tt.want)
		}
	}
}

func TestNilLogger(t *testing.T) {
	slogbridge.New(nil).Error("discarded", "k", "v")
	slogbridge.ForChild(context.Background(), nil).Info("discarded")
	if slogbridge.NewHandler(nil).Enabled(context.Background(), slog.LevelError) {
		t.Errorf("a nil logger's handler is enabled")
	}
}

// A sampling core drops repeated slog records just as it drops zap ones.
func TestSampling(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	// Per second: the first record of a message, then none.
	sampled := zapcore.NewSamplerWithOptions(core, time.Second, 1, 0)
	h := slogbridge.NewHandler(zap.New(sampled))
	at := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC) // one sampling tick for all records
	for range 5 {
		if err := h.Handle(context.Background(), slog.NewRecord(at, slog.LevelError, "child terminated", 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Handle(context.Background(), slog.NewRecord(at, slog.LevelError, "reached max restart intensity", 0)); err != nil {
		t.Fatal(err)
	}
	if got := logs.FilterMessage("child terminated").Len(); got != 1 {
		t.Errorf("%d of 5 repeated records kept, want 1", got)
	}
	if got := logs.FilterMessage("reached max restart intensity").Len(); got != 1 {
		t.Errorf("a different message: %d records kept, want 1", got)
	}
}

func TestForChildOutsideSupervisor(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	slogbridge.ForChild(context.Background(), zl).Info("standalone", "k", "v")
	checkFields(t, only(t, logs), map[string]any{"k": "v"})
}

// logging is a child that logs once through ForChild, then runs until it is
// stopped.
type logging struct {
	log    *zap.Logger
	once   sync.Once
	logged chan struct{}
}

func (l *logging) Serve(ctx context.Context) error {
	slogbridge.ForChild(ctx, l.log).Info("connected", "addr", "10.0.0.1:5432")
	l.once.Do(func() { close(l.logged) })
	<-ctx.Done()
	return nil
}

func TestForChild(t *testing.T) {
	zl, logs := observed(zapcore.DebugLevel)
	leaf := &logging{log: zl.Named("app"), logged: make(chan struct{})}
	sub, err := supervisor.New("db", []child.Spec{{ID: "pool", Service: leaf}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := supervisor.New("app", []child.Spec{{ID: "db", Service: sub, Kind: child.KindSupervisor}})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case <-leaf.logged:
	case <-testCtx(t).Done():
		t.Fatal("the child did not log")
	}
	if err := root.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	e := only(t, logs)
	if e.Message != "connected" || e.LoggerName != "app" {
		t.Errorf("entry = %q from %q, want %q from %q", e.Message, e.LoggerName, "connected", "app")
	}
	checkFields(t, e, map[string]any{slogbridge.PathKey: "app/db/pool", "addr": "10.0.0.1:5432"})
}

// An application that logs with log/slog hands its handler
// to a supervisor and gets arbor's reports, a panic's stack included.
func TestZapLoggerForSupervisor(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	rec := supervisortest.NewRecorder()
	crashed := make(chan struct{})
	var once sync.Once
	svc := child.Func(func(ctx context.Context) error {
		first := false
		once.Do(func() { first = true })
		if first {
			close(crashed)
			panic("boom")
		}
		<-ctx.Done()
		return nil
	})
	s, err := supervisor.New("root", []child.Spec{{ID: "a", Service: svc}},
		supervisor.WithLogger(slogbridge.ZapLogger(h)), supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Stop(context.Background()) }()
	<-crashed
	if _, err := rec.WaitForNth(context.Background(), supervisor.ChildStarted, "a", 2); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	var report map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if m["context"] == "child_terminated" {
			report = m
		}
	}
	if report == nil || report["level"] != "ERROR" || report["supervisor"] != "root" || report["child"] != "a" || report["panic"] != "boom" {
		t.Fatalf("report %v, want a child_terminated error for root/a with the panic; output:\n%s", report, out)
	}
	if st, _ := report["stacktrace"].(string); !strings.Contains(st, "slogbridge_test") {
		t.Fatalf("stacktrace %q, want the panicking function", st)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
