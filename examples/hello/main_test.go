package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/internal/waitbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testTimeout = 20 * time.Second

// output collects what the program writes and lets the test wait for a line.
type output struct{ waitbuf.Buffer }

func (o *output) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	return o.WaitFor(t, re, testTimeout)
}

// The program does what its comment says: the cache's first panic is
// restarted by db, its second makes db give up, root restarts db, the API
// and the tree page answer, and Ctrl-C (here the end of its context) stops
// it cleanly.
func TestHello(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &output{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-addr=127.0.0.1:0", "-pool-delay=10ms", "-crash-after=10ms"}, out)
	}()

	base := out.waitFor(t, regexp.MustCompile(`tree page: (http://[^/]+)/debug/arbor/`))[1]
	out.waitFor(t, regexp.MustCompile(`child restarted\s+\{"path": "root/db/cache", "incarnation": 2\}`))
	out.waitFor(t, regexp.MustCompile(`reached max restart intensity\s+\{"supervisor": "root/db"`))
	out.waitFor(t, regexp.MustCompile(`child restarted\s+\{"path": "root/db", "incarnation": 2\}`))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for path, want := range map[string]string{"/": "hello from root/api", "/debug/arbor/tree.json": `"path":"root/db/cache"`, "/livez": "ok"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %.300s, want %q in it", path, resp.StatusCode, body, want)
		}
	}

	cancel()
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Errorf("exit code %d, want %d\n%s", c, daemon.ExitOK, out.String())
		}
	case <-time.After(testTimeout):
		t.Fatal("the program did not stop")
	}
	for _, want := range []string{`child terminated`, `"panic": "cache: corrupted entry"`, `"exit_code": 0`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-crashes=-1"}, {"-pool-delay=-1s"}} {
		if c := run(context.Background(), args, io.Discard); c != 64 {
			t.Errorf("%q: exit code %d, want 64", args, c)
		}
	}
	if c := run(context.Background(), []string{"-h"}, io.Discard); c != 0 {
		t.Errorf("-h: exit code %d", c)
	}
}
