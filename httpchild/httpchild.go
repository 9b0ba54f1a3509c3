package httpchild

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborgo/arbor/child"
)

var (
	// ErrRequestsCut is matched by the error Serve returns when its stop
	// deadline came before the requests in flight had finished, so that they
	// were cut by http.Server.Close.
	ErrRequestsCut = errors.New("httpchild: stop deadline cut requests in flight")
	// ErrNoServer is returned by Serve for a Service built from a nil
	// *http.Server.
	ErrNoServer = errors.New("httpchild: no *http.Server")
	// ErrNoCertificate is returned by Serve for a TLS service with no
	// certificate: neither files given to NewTLS nor any in the server's
	// TLSConfig.
	ErrNoCertificate = errors.New("httpchild: TLS without a certificate")
)

// Service is a child.Service that serves HTTP with a copy of an
// *http.Server's settings. Build it with [New] or [NewTLS]; the zero value
// serves nothing and Serve returns [ErrNoServer].
type Service struct {
	tmpl              *http.Server
	tls               bool
	certFile, keyFile string

	// addr is where the latest run listens; nil while none does.
	addr atomic.Pointer[net.Addr]
}

var _ child.Service = (*Service)(nil)

// New returns a Service that serves plain HTTP with srv's settings, on
// srv.Addr (":http" if empty, as http.Server.ListenAndServe does). Declare it
// with AwaitReady in its spec, so that the next sibling starts once it
// accepts connections.
func New(srv *http.Server) *Service {
	return &Service{tmpl: srv}
}

// NewTLS returns a Service that serves HTTPS with srv's settings, on srv.Addr
// (":https" if empty), as http.Server.ListenAndServeTLS does. The certificate
// and key are read from certFile and keyFile at each start; both may be
// empty if srv.TLSConfig provides the certificate (Certificates,
// GetCertificate or GetConfigForClient).
func NewTLS(srv *http.Server, certFile, keyFile string) *Service {
	return &Service{tmpl: srv, tls: true, certFile: certFile, keyFile: keyFile}
}

// Addr returns the address the service listens on, such as 127.0.0.1:41234
// for an Addr of "127.0.0.1:0", or nil while it does not listen.
func (s *Service) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Serve runs one incarnation: it listens, reports ready, serves until ctx
// is done, then shuts the server down within the child's stop deadline (see
// the package documentation). A failure to listen or to load the certificate
// is returned before the child reports ready. If the server stops serving by
// itself, Serve returns why, an abnormal exit that its supervisor restarts.
func (s *Service) Serve(ctx context.Context) error {
	if s.tmpl == nil {
		return ErrNoServer
	}
	var inFlight tracker
	srv := s.server(ctx, &inFlight)
	if s.tls {
		if err := s.configureTLS(srv); err != nil {
			return err
		}
	}
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
		if s.tls {
			addr = ":https"
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("httpchild: %w", err)
	}
	bound := ln.Addr()
	s.addr.Store(&bound)
	defer s.addr.CompareAndSwap(&bound, nil)

	served := make(chan error, 1)
	// Ends when the listener is closed, by Shutdown or Close below.
	go func() {
		if s.tls {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	child.Ready(ctx)

	select {
	case err := <-served:
		return fmt.Errorf("httpchild: serving %v: %w", bound, err)
	case <-ctx.Done():
	}
	dctx, cancel := child.DrainContext(ctx)
	defer cancel()
	err = srv.Shutdown(dctx)
	<-served // returned ErrServerClosed as soon as Shutdown closed the listener
	if err == nil {
		return nil
	}
	cut := inFlight.count()
	_ = srv.Close()
	errorLog(srv).Printf("httpchild: %v: stop deadline reached: cut %d requests in flight", bound, cut)
	// Close does not wait for the handlers; give them what is left of the
	// budget to see their contexts end and return.
	if d, ok := child.StopDeadline(ctx); ok {
		wait := time.NewTimer(time.Until(d) / 2)
		defer wait.Stop()
		select {
		case <-inFlight.idle():
		case <-wait.C:
		}
	}
	return fmt.Errorf("%w: %d cut on %v", ErrRequestsCut, cut, bound)
}

// server returns a fresh server with the template's settings, whose handler
// counts the requests in flight in t.
func (s *Service) server(ctx context.Context, t *tracker) *http.Server {
	tmpl := s.tmpl
	srv := &http.Server{
		Addr:                         tmpl.Addr,
		Handler:                      tmpl.Handler,
		DisableGeneralOptionsHandler: tmpl.DisableGeneralOptionsHandler,
		TLSConfig:                    tmpl.TLSConfig.Clone(),
		ReadTimeout:                  tmpl.ReadTimeout,
		ReadHeaderTimeout:            tmpl.ReadHeaderTimeout,
		WriteTimeout:                 tmpl.WriteTimeout,
		IdleTimeout:                  tmpl.IdleTimeout,
		MaxHeaderBytes:               tmpl.MaxHeaderBytes,
		TLSNextProto:                 tmpl.TLSNextProto,
		ConnState:                    tmpl.ConnState,
		ErrorLog:                     tmpl.ErrorLog,
		BaseContext:                  tmpl.BaseContext,
		ConnContext:                  tmpl.ConnContext,
		HTTP2:                        tmpl.HTTP2,
		Protocols:                    tmpl.Protocols,
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.add(1)
		defer t.add(-1)
		h.ServeHTTP(w, r)
	})
	if srv.BaseContext == nil {
		base := context.WithoutCancel(ctx)
		srv.BaseContext = func(net.Listener) context.Context { return base }
	}
	return srv
}

// configureTLS loads the certificate into srv's TLS configuration, so that
// a missing or bad one fails the start.
func (s *Service) configureTLS(srv *http.Server) error {
	cfg := srv.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if s.certFile != "" || s.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
		if err != nil {
			return fmt.Errorf("httpchild: loading the certificate: %w", err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return ErrNoCertificate
	}
	srv.TLSConfig = cfg
	return nil
}

func errorLog(srv *http.Server) *log.Logger {
	if srv.ErrorLog != nil {
		return srv.ErrorLog
	}
	return log.Default()
}

// tracker counts the requests in flight.
type tracker struct {
	mu   sync.Mutex
	n    int           // guarded by mu
	zero chan struct{} // guarded by mu: closed when n drops to 0, if waited for
}

func (t *tracker) add(d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += d
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// idle returns a channel that is closed once no request is in flight.
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	return t.zero
}
