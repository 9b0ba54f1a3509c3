package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/arborgo/arbor/child"
)

// Server is the gRPC server as a child. Its start handshake is the listen:
// it reports ready once its socket is bound, so a connection made after
// the tree has started is accepted. Its stop handshake is in two steps: the
// open streams are told to end and GracefulStop waits for them, until a
// little before the child's stop deadline; then Stop closes whatever is
// left.
type Server struct {
	Addr    string
	Health  *health.Server
	Backend *Backend
	Log     *zap.Logger
	bound   *atomic.Pointer[net.Addr] // where the running incarnation listens
}

// Serve runs one incarnation of the server.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err // before Ready: a failed start
	}
	draining := make(chan struct{}) // closed when the stop begins: streams end
	gs := grpc.NewServer()
	gs.RegisterService(&shoutDesc, &shout{backend: s.Backend, draining: draining})
	healthpb.RegisterHealthServer(gs, s.Health)
	addr := ln.Addr()
	s.bound.Store(&addr)
	defer s.bound.Store(nil)

	served := make(chan error, 1) // buffered: the goroutine never waits for Serve
	// Ends when gs stops (GracefulStop or Stop below), which Serve always
	// does before it returns.
	go func() { served <- gs.Serve(ln) }()
	child.Ready(ctx)
	s.Log.Info("listening", zap.Stringer("addr", addr))

	select {
	case err := <-served:
		return err // the listener failed: a crash, restarted by the supervisor
	case <-ctx.Done():
	}
	// Polite: health says NOT_SERVING (the health child may already have),
	// open streams finish the message in hand and end, GracefulStop waits
	// for them and for unary calls in flight.
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	close(draining)
	graceful := make(chan struct{})
	// Ends when every call has ended, or when Stop below ends them.
	go func() {
		defer close(graceful)
		gs.GracefulStop()
	}()
	var force <-chan time.Time
	if d, ok := child.StopDeadline(ctx); ok {
		left := time.Until(d)
		t := time.NewTimer(max(left-min(100*time.Millisecond, left/10), 0))
		defer t.Stop()
		force = t.C
	}
	select {
	case <-graceful:
	case <-force:
		s.Log.Warn("graceful stop overran its budget: closing the remaining streams")
		gs.Stop()
		<-graceful
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// The Shout service has no .proto file: its one method is declared by hand,
// and its messages are protobuf's wrapper types, which gRPC's default codec
// encodes as any generated message.
//
//	service Shout { rpc Chat(stream google.protobuf.StringValue) returns (stream google.protobuf.StringValue); }
var shoutDesc = grpc.ServiceDesc{
	ServiceName: "arbor.example.Shout",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		Handler:       func(srv any, stream grpc.ServerStream) error { return srv.(*shout).chat(stream) },
		ServerStreams: true,
		ClientStreams: true,
	}},
	Metadata: "shout",
}

// chatMethod is the full name a client calls.
const chatMethod = "/arbor.example.Shout/Chat"

type shout struct {
	backend  *Backend
	draining <-chan struct{}
}

// chat is the bidirectional stream: every message is sent to the backend
// and its answer sent back. A reader goroutine receives; this goroutine, the
// writer, answers. They end together: the writer returns when the client
// closes its side, when the stream's context ends, or when the server
// drains; its return ends the stream, which ends the reader's Recv; and the
// reader never blocks on a send after the writer has left, since its sends
// select on done.
func (s *shout) chat(stream grpc.ServerStream) error {
	ctx := stream.Context()
	in := make(chan string)
	done := make(chan struct{})
	defer close(done)
	readErr := make(chan error, 1) // buffered: the reader never waits to report
	// Ends at the stream's end (io.EOF from the client, or the stream's
	// context ended by this handler's return), or when done is closed.
	go func() {
		for {
			msg := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(msg); err != nil {
				readErr <- err
				return
			}
			select {
			case in <- msg.GetValue():
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case text := <-in:
			answer, err := s.backend.Do(ctx, text)
			if err != nil {
				if ctx.Err() != nil {
					return status.FromContextError(ctx.Err()).Err()
				}
				answer = "! " + err.Error() // in band: the stream goes on
			}
			if err := stream.SendMsg(wrapperspb.String(answer)); err != nil {
				return err
			}
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil // the client closed its side: done
			}
			return err
		case <-s.draining:
			return status.Error(codes.Unavailable, "server shutting down: reconnect")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}
