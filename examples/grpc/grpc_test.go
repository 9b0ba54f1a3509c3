package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// testTimeout bounds every wait that would hang if the code were wrong; a
// passing test never reaches it.
const testTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// start runs the tree on a free port and returns it with a client
// connection and a recorder of the tree's events.
func start(t *testing.T) (*App, *grpc.ClientConn, *supervisortest.Recorder) {
	t.Helper()
	rec := supervisortest.NewRecorder()
	app, err := newApp(Config{Addr: "127.0.0.1:0", Budget: 20 * time.Second, Log: zaptest.NewLogger(t), Hooks: []supervisor.Hook{rec.Hook()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Root.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Root.Stop(context.Background()) })
	cc, err := grpc.NewClient(app.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return app, cc, rec
}

func chat(t *testing.T, ctx context.Context, cc *grpc.ClientConn) grpc.ClientStream {
	t.Helper()
	stream, err := cc.NewStream(ctx, &shoutDesc.Streams[0], chatMethod)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

func say(t *testing.T, stream grpc.ClientStream, text string) string {
	t.Helper()
	if err := stream.SendMsg(wrapperspb.String(text)); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	var answer wrapperspb.StringValue
	if err := stream.RecvMsg(&answer); err != nil {
		t.Fatalf("answer to %q: %v", text, err)
	}
	return answer.GetValue()
}

// A client streams through a restart of the backend: the crash is answered
// in band, the backend is restarted by its supervisor, and the same stream
// goes on.
func TestStreamThroughABackendRestart(t *testing.T) {
	_, cc, rec := start(t)
	ctx := testCtx(t)
	stream := chat(t, ctx, cc)
	if got := say(t, stream, "hello"); got != "HELLO" {
		t.Fatalf("answer %q; want HELLO", got)
	}
	if got := say(t, stream, "crash"); !strings.Contains(got, errCrashed.Error()) {
		t.Fatalf("answer %q; want the crash, in band", got)
	}
	ev, err := rec.WaitFor(ctx, supervisor.ChildExited, "backend")
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Restarted {
		t.Fatalf("backend exit %+v; want a restart", ev)
	}
	for _, text := range []string{"still", "here"} {
		if got := say(t, stream, text); got != strings.ToUpper(text) {
			t.Fatalf("answer %q; want %q", got, strings.ToUpper(text))
		}
	}
	if _, err := rec.WaitForNth(ctx, supervisor.ChildStarted, "backend", 2); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream = %v; want io.EOF", err)
	}
}

// The standard health service reports the tree: SERVING once it has
// started, NOT_SERVING as soon as its shutdown begins.
func TestHealthFollowsTheTree(t *testing.T) {
	app, cc, _ := start(t)
	ctx := testCtx(t)
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	watch, err := healthpb.NewHealthClient(cc).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for {
			resp, err := watch.Recv()
			if err != nil {
				t.Fatalf("waiting for %v: %v", want, err)
			}
			if resp.GetStatus() == want {
				return
			}
		}
	}
	waitStatus(healthpb.HealthCheckResponse_SERVING)
	stopped := make(chan error, 1)
	// Ends when the tree has stopped, which the end of the watch allows.
	go func() { stopped <- app.Root.Stop(ctx) }()
	waitStatus(healthpb.HealthCheckResponse_NOT_SERVING)
	// A watch is a stream that GracefulStop waits for: end it, as a client
	// that saw NOT_SERVING does.
	stopWatching()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop = %v; want nil", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the tree did not stop")
	}
}

// An open stream when the tree stops: the server tells it to end, so the
// graceful stop completes, within the budget, and the client is told to
// reconnect.
func TestGracefulStopEndsOpenStreams(t *testing.T) {
	app, cc, rec := start(t)
	ctx := testCtx(t)
	stream := chat(t, ctx, cc)
	if got := say(t, stream, "hi"); got != "HI" {
		t.Fatalf("answer %q; want HI", got)
	}
	if err := app.Root.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
	err := stream.RecvMsg(new(wrapperspb.StringValue))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream ended with %v; want Unavailable", err)
	}
	if n := rec.Count(supervisor.ChildAbandoned, ""); n != 0 {
		t.Fatalf("%d children abandoned; want none", n)
	}
	if app.Addr() != nil {
		t.Fatalf("still listening on %v", app.Addr())
	}
}

// lines hands each line written to it to a channel.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		select {
		case l <- s:
		default: // no one reads any more: never block the logger
		}
	}
	return len(p), nil
}

// The whole program: it starts, listens, and stops cleanly on SIGTERM.
func TestRun(t *testing.T) {
	out := make(lines, 256)
	term := make(chan os.Signal, 1)
	code := make(chan int, 1)
	// Ends when run returns, after the SIGTERM below.
	go func() { code <- run(testCtx(t), []string{"-addr", "127.0.0.1:0"}, out, daemon.WithSignals(term)) }()
	for seen := false; !seen; {
		select {
		case l := <-out:
			seen = strings.Contains(l, "\tstarted")
		case <-time.After(testTimeout):
			t.Fatal("the daemon did not start")
		}
	}
	term <- syscall.SIGTERM
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Fatalf("exit code %d; want 0", c)
		}
	case <-time.After(testTimeout):
		t.Fatal("run did not return")
	}
	if c := run(testCtx(t), []string{"extra"}, io.Discard); c != exitUsage {
		t.Fatalf("with an argument: exit code %d; want %d", c, exitUsage)
	}
}
