package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/internal/waitbuf"
)

// helperEnv, when set, makes the test binary run the demo with the
// arguments in it, so a test can send it real signals.
const helperEnv = "ARBORDEMO_HELPER_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(helperEnv); args != "" {
		os.Exit(run(context.Background(), strings.Fields(args), os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

const testTimeout = 20 * time.Second

// output collects what the program writes and lets the test wait for a line.
type output struct{ waitbuf.Buffer }

func (o *output) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	return o.WaitFor(t, re, testTimeout)
}

// The demo shows what it promises: restarts with a backoff delay, a nested
// supervisor that gives up and is restarted by its parent, and the tree
// page's address, which answers; the end of its context stops it with exit
// code 0. Its output has no colour codes when it is not a terminal.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &output{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-duration=0", "-crash-every=20ms", "-cache-crash=20ms"}, out)
	}()
	page := out.waitFor(t, regexp.MustCompile(`tree page: (http://\S+/debug/arbor/)`))[1]
	out.waitFor(t, regexp.MustCompile(`restart scheduled\s+\{"supervisor": "root", [^\n]*"child": "flaky", [^\n]*"delay": "`))
	out.waitFor(t, regexp.MustCompile(`child restarted\s+\{"path": "root/db/cache", "incarnation": 2\}`))
	out.waitFor(t, regexp.MustCompile(`reached max restart intensity\s+\{"supervisor": "root/db"`))
	out.waitFor(t, regexp.MustCompile(`child restarted\s+\{"path": "root/db", "incarnation": 2\}`))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, url := range []string{page, page + "tree.json", strings.TrimSuffix(page, "debug/arbor/") + "livez"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", url, resp.StatusCode)
		}
	}

	cancel()
	select {
	case c := <-code:
		if c != daemon.ExitOK {
			t.Errorf("exit code %d\n%s", c, out.String())
		}
	case <-time.After(testTimeout):
		t.Fatal("the demo did not stop")
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour codes in output that is not a terminal")
	}
}

// Ctrl-C (SIGINT) stops the built demo with exit status 0.
func TestInterruptExitsZero(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=-duration=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	rest := make(chan string, 1)
	// Ends when the demo exits and its stderr closes.
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "tree page:") {
				once.Do(func() { close(started) })
			}
		}
		rest <- b.String()
	}()
	select {
	case <-started:
	case <-time.After(testTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("the demo did not start:\n%s", <-rest)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	log := <-rest
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, log)
	}
	if !strings.Contains(log, `"exit_code": 0`) {
		t.Errorf("no clean stop in the log:\n%s", log)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-crash-every=0"}, {"-duration=-1s"}} {
		if c := run(context.Background(), args, io.Discard); c != exitUsage {
			t.Errorf("%q: exit code %d, want %d", args, c, exitUsage)
		}
	}
	if c := run(context.Background(), []string{"-h"}, io.Discard); c != 0 {
		t.Errorf("-h: exit code %d", c)
	}
}
