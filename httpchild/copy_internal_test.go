package httpchild

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// Every exported setting of http.Server reaches the copy a run serves, so
// that a field added to http.Server by a later Go is not silently dropped:
// this test then fails until server copies it.
func TestServerCopiesEverySetting(t *testing.T) {
	tmpl := &http.Server{
		Addr:                         "127.0.0.1:0",
		Handler:                      http.NotFoundHandler(),
		DisableGeneralOptionsHandler: true,
		TLSConfig:                    &tls.Config{ServerName: "x"},
		ReadTimeout:                  time.Second,
		ReadHeaderTimeout:            time.Second,
		WriteTimeout:                 time.Second,
		IdleTimeout:                  time.Second,
		MaxHeaderBytes:               1,
		TLSNextProto:                 map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnState:                    func(net.Conn, http.ConnState) {},
		ErrorLog:                     log.Default(),
		BaseContext:                  func(net.Listener) context.Context { return context.Background() },
		ConnContext:                  func(ctx context.Context, _ net.Conn) context.Context { return ctx },
		HTTP2:                        &http.HTTP2Config{},
		Protocols:                    &http.Protocols{},
	}
	tv := reflect.ValueOf(tmpl).Elem()
	for i := range tv.NumField() {
		f := tv.Type().Field(i)
		if f.IsExported() && tv.Field(i).IsZero() {
			t.Fatalf("the test leaves http.Server.%s unset: set it above and copy it in server", f.Name)
		}
	}
	s := New(tmpl)
	cv := reflect.ValueOf(s.server(context.Background(), &tracker{})).Elem()
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		if f.IsExported() && cv.Field(i).IsZero() {
			t.Errorf("http.Server.%s is not copied", f.Name)
		}
	}
	if s.server(context.Background(), &tracker{}).TLSConfig == tmpl.TLSConfig {
		t.Error("the TLS configuration is shared with the template, not cloned")
	}
}
