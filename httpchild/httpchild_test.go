package httpchild_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/httpchild"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// start serves specs under a supervisor recording its events, and stops it
// at the end of the test if the test has not.
func start(t *testing.T, specs ...child.Spec) (*supervisor.Supervisor, *supervisortest.Recorder) {
	t.Helper()
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("root", specs, supervisor.WithHook(rec.Hook()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop(context.Background()) })
	return sup, rec
}

// get is safe from any goroutine: it reports failures as its error.
func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The child is ready once it accepts connections: its next sibling, started
// only then, gets an answer at once.
func TestReadyMeansAccepting(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, child.Path(r.Context()))
	})
	api := httpchild.New(&http.Server{Addr: "127.0.0.1:0", Handler: mux})
	answer := make(chan string, 1)
	start(t,
		child.Spec{ID: "api", Service: api, AwaitReady: true},
		child.Spec{ID: "client", Restart: child.Temporary, Service: child.Func(func(ctx context.Context) error {
			status, body, err := get(ctx, http.DefaultClient, "http://"+api.Addr().String()+"/")
			answer <- fmt.Sprint(status, " ", body, " ", err)
			return nil
		})},
	)
	// Handlers see the child's context values, so child.Path names it.
	if got, want := <-answer, "200 root/api <nil>"; got != want {
		t.Errorf("the next sibling got %q, want %q", got, want)
	}
	http.DefaultClient.CloseIdleConnections()
}

// A stop waits for the request in flight: the listener and idle connections
// close first, then the request finishes, and the child stops cleanly.
func TestStopFinishesRequestsInFlight(t *testing.T) {
	ctx := testCtx(t)
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		fmt.Fprint(w, "finished")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fast") })
	api := httpchild.New(&http.Server{Addr: "127.0.0.1:0", Handler: mux})
	sup, rec := start(t, child.Spec{ID: "api", Service: api, AwaitReady: true, Shutdown: testTimeout})
	addr := api.Addr().String()

	// An idle keep-alive connection: Shutdown closes it, which tells the test
	// that the shutdown has begun.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /fast HTTP/1.1\r\nHost: test\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	slow := make(chan string, 1)
	go func() {
		status, body, err := get(ctx, client, "http://"+addr+"/slow")
		slow <- fmt.Sprint(status, " ", body, " ", err)
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- sup.Stop(testCtx(t)) }()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the idle connection was not closed by the shutdown")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("a new connection was accepted during the shutdown")
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the request in flight finished", err)
	default:
	}
	close(release)
	if got, want := <-slow, "200 finished <nil>"; got != want {
		t.Errorf("request in flight: %q, want %q", got, want)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	ev, err := rec.WaitFor(testCtx(t), supervisor.ChildStopped, "api")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Returned != nil {
		t.Errorf("Serve returned %v after a clean stop", ev.Returned)
	}
}

// A request still running at the stop deadline is cut: the child closes the
// server just before the deadline, reports how many it cut, and returns in
// time, so it is not abandoned.
func TestStopDeadlineCutsSlowRequest(t *testing.T) {
	ctx := testCtx(t)
	entered := make(chan struct{})
	handlerDone := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // ends only when the connection is cut
		handlerDone <- r.Context().Err()
	})
	var errLog syncBuffer
	api := httpchild.New(&http.Server{Addr: "127.0.0.1:0", Handler: mux, ErrorLog: log.New(&errLog, "", 0)})
	sup, rec := start(t, child.Spec{ID: "api", Service: api, AwaitReady: true, Shutdown: time.Second})

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	cut := make(chan error, 1)
	go func() {
		_, _, err := get(ctx, client, "http://"+api.Addr().String()+"/stuck")
		cut <- err
	}()
	<-entered
	if err := sup.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop: %v (was the child abandoned?)", err)
	}
	if err := <-cut; err == nil {
		t.Error("the stuck request was answered, not cut")
	}
	if err := <-handlerDone; err == nil {
		t.Error("the handler's context did not end")
	}
	ev, err := rec.WaitFor(testCtx(t), supervisor.ChildStopped, "api")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ev.Returned, httpchild.ErrRequestsCut) {
		t.Errorf("Serve returned %v, want ErrRequestsCut", ev.Returned)
	}
	if !strings.Contains(errLog.String(), "cut 1 requests in flight") {
		t.Errorf("error log %q does not count the request cut", errLog.String())
	}
}

// A failure to listen fails the child's start, naming it.
func TestListenFailureFailsStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, svc := range map[string]*httpchild.Service{
		"address in use":    httpchild.New(&http.Server{Addr: taken.Addr().String()}),
		"bad address":       httpchild.New(&http.Server{Addr: "127.0.0.1:notaport"}),
		"nil server":        httpchild.New(nil),
		"zero value":        &httpchild.Service{},
		"no certificate":    httpchild.NewTLS(&http.Server{Addr: "127.0.0.1:0"}, "", ""),
		"missing cert file": httpchild.NewTLS(&http.Server{Addr: "127.0.0.1:0"}, "/nonexistent/cert.pem", "/nonexistent/key.pem"),
	} {
		t.Run(name, func(t *testing.T) {
			sup, err := supervisor.New("root", []child.Spec{{ID: "api", Service: svc, AwaitReady: true}})
			if err != nil {
				t.Fatal(err)
			}
			err = sup.Serve(testCtx(t))
			var se *supervisor.StartError
			if !errors.As(err, &se) || se.Child != "api" {
				t.Fatalf("Serve = %v, want a *StartError for api", err)
			}
			t.Log(err)
		})
	}
	t.Run("address in use matches EADDRINUSE", func(t *testing.T) {
		sup, _ := supervisor.New("root", []child.Spec{{ID: "api", AwaitReady: true,
			Service: httpchild.New(&http.Server{Addr: taken.Addr().String()})}})
		if err := sup.Serve(testCtx(t)); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Serve = %v, want EADDRINUSE", err)
		}
	})
}

// A restarted child serves again: each run serves a fresh copy of the
// template, which a shut-down http.Server could not.
func TestRestartServesAgain(t *testing.T) {
	ctx := testCtx(t)
	api := httpchild.New(&http.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})})
	sup, _ := start(t, child.Spec{ID: "api", Service: api, AwaitReady: true})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := range 3 {
		if status, body, err := get(ctx, client, "http://"+api.Addr().String()+"/"); status != 200 || body != "ok" {
			t.Fatalf("run %d: %d %q %v", i+1, status, body, err)
		}
		if err := sup.TerminateChild(testCtx(t), "api"); err != nil {
			t.Fatal(err)
		}
		if api.Addr() != nil {
			t.Fatal("Addr is not nil once the child has stopped")
		}
		client.CloseIdleConnections()
		if err := sup.RestartChild(testCtx(t), "api"); err != nil {
			t.Fatal(err)
		}
	}
}

// Handlers run under the child's pprof label, so the goroutine profile
// attributes a stuck handler to the child that serves it.
func TestHandlersCarryTheChildsLabel(t *testing.T) {
	ctx := testCtx(t)
	entered, release := make(chan struct{}), make(chan struct{})
	api := httpchild.New(&http.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		stuckHandler(release)
	})})
	start(t, child.Spec{ID: "api", Service: api, AwaitReady: true})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = get(ctx, client, "http://"+api.Addr().String()+"/")
	}()
	<-entered
	g := supervisor.GoroutinesUnder("root")["root/api"]
	close(release)
	<-done
	if !strings.Contains(g.Stacks, "stuckHandler") {
		t.Errorf("the handler's stack is not under root/api:\n%s", g.Stacks)
	}
}

//go:noinline
func stuckHandler(release chan struct{}) { <-release }

// The TLS service serves HTTPS with the certificate of its TLS configuration.
func TestTLS(t *testing.T) {
	ctx := testCtx(t)
	cert, pool := selfSigned(t)
	api := httpchild.NewTLS(&http.Server{
		Addr:      "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.TLS != nil) }),
	}, "", "")
	start(t, child.Spec{ID: "api", Service: api, AwaitReady: true})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	if status, body, err := get(ctx, client, "https://"+api.Addr().String()+"/"); status != 200 || body != "true" {
		t.Fatalf("GET = %d %q %v", status, body, err)
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
