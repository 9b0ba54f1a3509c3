package treeview_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
	"github.com/arborgo/arbor/treeview"
)

// chromiumPath returns Debian's chromium. Without it the test is skipped,
// unless the CI variable is set: CI installs it, so its absence there is a
// failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium is not on PATH (apt-get install chromium); CI=true makes this a failure")
	}
	t.Fatalf("CI=%s but chromium is not on PATH: %v", os.Getenv("CI"), err)
	return ""
}

// dumpDOM loads url in headless chromium, lets its scripts run for three
// seconds of virtual time, and returns the serialised DOM.
func dumpDOM(t *testing.T, bin, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url)
	// Chromium starts helper processes: put them in a group of their own, so
	// a timeout kills them all, and bound the wait for their pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\nstderr:\n%s", err, stderr.String())
	}
	return string(out)
}

var (
	liTag = regexp.MustCompile(`<li\b[^>]*>`)
	attr  = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
)

// nodes returns the data attributes of every tree node in dom, by data-path.
func nodes(dom string) map[string]map[string]string {
	out := make(map[string]map[string]string)
	for _, tag := range liTag.FindAllString(dom, -1) {
		attrs := make(map[string]string)
		for _, m := range attr.FindAllStringSubmatch(tag, -1) {
			attrs[m[1]] = html.UnescapeString(m[2])
		}
		if p, ok := attrs["data-path"]; ok {
			out[p] = attrs
		}
	}
	return out
}

func expectNode(t *testing.T, dom, path string, want map[string]string) {
	t.Helper()
	got, ok := nodes(dom)[path]
	if !ok {
		t.Fatalf("no element with data-path=%q in the page:\n%s", path, dom)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s=%q, want %q (attributes %v)", path, k, got[k], v, got)
		}
	}
}

// The page, in a real browser, draws the live tree and follows a crash and
// its restart.
func TestPageInBrowser(t *testing.T) {
	bin := chromiumPath(t)
	crash := make(chan error)
	flaky := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		select {
		case err := <-crash:
			return err
		case <-ctx.Done():
			return nil
		}
	})
	db, err := supervisor.New("db", []child.Spec{idle("pool")})
	if err != nil {
		t.Fatal(err)
	}
	rec := supervisortest.NewRecorder()
	root, err := supervisor.New("root", []child.Spec{
		{ID: "db", Service: db, Kind: child.KindSupervisor},
		{ID: "flaky", Service: flaky, AwaitReady: true},
	}, supervisor.WithHook(rec.Hook()), supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 5, Period: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	start(t, root)

	mux := http.NewServeMux()
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := srv.URL + "/debug/arbor/"

	dom := dumpDOM(t, bin, url)
	expectNode(t, dom, "root", map[string]string{"data-kind": "supervisor", "data-state": "running", "data-ready": "true"})
	expectNode(t, dom, "root/db/pool", map[string]string{"data-kind": "worker", "data-state": "running", "data-restarts": "0"})
	expectNode(t, dom, "root/flaky", map[string]string{"data-state": "running", "data-restarts": "0", "data-ready": "true"})
	if _, ok := nodes(dom)["root/flaky"]["data-last-exit-kind"]; ok {
		t.Errorf("root/flaky shows a last exit before any")
	}

	crash <- errors.New("boom on demand")
	if _, err := rec.WaitForNth(testCtx(t), supervisor.ChildStarted, "flaky", 2); err != nil {
		t.Fatal(err)
	}
	dom = dumpDOM(t, bin, url)
	expectNode(t, dom, "root/flaky", map[string]string{"data-state": "running", "data-restarts": "1", "data-last-exit-kind": "error"})
	if !strings.Contains(dom, "boom on demand") {
		t.Errorf("the page does not show the last exit reason:\n%s", dom)
	}
	if !strings.Contains(dom, `data-ok="true"`) {
		t.Errorf("the page reports a failed fetch:\n%s", dom)
	}
}
