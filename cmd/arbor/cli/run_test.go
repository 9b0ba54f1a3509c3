package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arborgo/arbor/cmd/arbor/internal/agent"
)

const failsafe = 60 * time.Second

// daemonProc is an arbor run started by a test.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	socket string
	tree   string
	lines  chan string // arbor's stderr, line by line; closed at EOF
	seen   []string
	exited chan error
}

// startDaemon runs arbor on tree, with env added to its environment.
func startDaemon(t *testing.T, tree string, env ...string) *daemonProc {
	t.Helper()
	return startBinary(t, arborBin, tree, env...)
}

// startBinary runs bin, an arbor command, on tree, with env added to its
// environment.
func startBinary(t *testing.T, bin, tree string, env ...string) *daemonProc {
	t.Helper()
	dir, err := os.MkdirTemp("", "arbor-run-") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &daemonProc{t: t, socket: filepath.Join(dir, "s"), tree: filepath.Join(dir, "tree.yaml"),
		lines: make(chan string, 10000), exited: make(chan error, 1)}
	if err := os.WriteFile(d.tree, []byte(tree), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "run", "--socket", d.socket, "--http", "", "-c", d.tree)
	d.cmd.Env = append(os.Environ(), env...)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends at EOF, when arbor has exited
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.exited <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		for range d.lines {
		}
		<-d.exited
	})
	return d
}

// waitLog waits for a line of arbor's log that contains every one of subs.
func (d *daemonProc) waitLog(subs ...string) string {
	d.t.Helper()
	timeout := time.NewTimer(failsafe)
	defer timeout.Stop()
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("arbor exited before logging %q; log:\n%s", subs, strings.Join(d.seen, "\n"))
			}
			d.seen = append(d.seen, l)
			all := true
			for _, s := range subs {
				all = all && strings.Contains(l, s)
			}
			if all {
				return l
			}
		case <-timeout.C:
			d.t.Fatalf("arbor did not log %q; log:\n%s", subs, strings.Join(d.seen, "\n"))
		}
	}
}

// wait waits for arbor to exit and returns its exit code.
func (d *daemonProc) wait() int {
	d.t.Helper()
	for l := range d.lines {
		d.seen = append(d.seen, l)
	}
	err := <-d.exited
	d.exited <- err // for the cleanup
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		d.t.Fatal(err)
	}
	return 0
}

func (d *daemonProc) cli(args ...string) (int, string, string) {
	d.t.Helper()
	return runCLI(d.t, append([]string{"--socket", d.socket}, args...)...)
}

// watch runs tree --watch --json against arbor, whose lines the scanner
// reads, until end is called.
func (d *daemonProc) watch() (lines *bufio.Scanner, end func()) {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	watchDone := make(chan error, 1)
	go func() { // ends when ctx is cancelled
		err := runTree(ctx, newClient(d.socket), pw, true, true)
		pw.Close()
		watchDone <- err
	}()
	return bufio.NewScanner(pr), func() {
		d.t.Helper()
		cancel()
		go io.Copy(io.Discard, pr) // ends when pw is closed
		if err := <-watchDone; err != nil {
			d.t.Errorf("watch: %v", err)
		}
	}
}

func (d *daemonProc) pids() map[string]int {
	d.t.Helper()
	code, out, errs := d.cli("status", "--json")
	var rows []agent.Row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		d.t.Fatalf("status: exit %d, %v: %s %s", code, err, out, errs)
	}
	m := map[string]int{}
	for _, r := range rows {
		if r.PID != 0 {
			m[r.Path] = r.PID
		}
	}
	return m
}

func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err != nil
}

func TestRunGivesUpExits2(t *testing.T) {
	d := startDaemon(t, `version: 1
root:
  intensity: 2
  period: 1m
  children:
    - name: crasher
      command: /bin/sh
      args: ["-c", "echo about to fail >&2; exit 1"]
      readiness: {uptime: 0s}
`)
	if code := d.wait(); code != 2 {
		t.Fatalf("exit %d; want 2 (root gave up); log:\n%s", code, strings.Join(d.seen, "\n"))
	}
	log := strings.Join(d.seen, "\n")
	for _, want := range []string{"reached_max_restart_intensity", "exited with code 1", "about to fail"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

const stubbornTree = `version: 1
shutdown_timeout: 1m
root:
  children:
    - name: calm
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
    - name: stubborn
      command: /bin/sh
      args: ["-c", "trap 'echo ignoring TERM' TERM; echo >&3; while :; do sleep 0.1; done"]
      readiness: {notify: fd:3}
      shutdown: 1m
`

func TestRunSecondSignalForces(t *testing.T) {
	d := startDaemon(t, stubbornTree)
	d.waitLog("started", `"supervisor": "root"`)
	pids := d.pids()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitLog("ignoring TERM")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != 3 {
		t.Fatalf("exit %d; want 3; log:\n%s", code, strings.Join(d.seen, "\n"))
	}
	if !strings.Contains(strings.Join(d.seen, "\n"), "forced shutdown") {
		t.Errorf("no forced-shutdown report")
	}
	// arbor has exited; its children were killed and reparented to init.
	deadline := time.Now().Add(failsafe)
	for !gone(pids["root/stubborn"]) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // init reaps them: no event to wait on
	}
	if !gone(pids["root/stubborn"]) {
		t.Errorf("stubborn process %d survived the forced shutdown", pids["root/stubborn"])
	}
}

const calmTree = `version: 1
root:
  children:
    - name: calm
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
    - name: chatty
      command: /bin/sh
      args: ["-c", "trap 'echo got HUP' HUP; echo >&3; while :; do sleep 0.1; done"]
      readiness: {notify: fd:3}
      shutdown: 5s
`

func TestRunClientsReloadAndCleanStop(t *testing.T) {
	d := startDaemon(t, calmTree)
	d.waitLog("started", `"supervisor": "root"`)
	if fi, err := os.Stat(d.socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	code, out, errs := d.cli("status")
	if code != 0 || !strings.Contains(out, "root/chatty") || !strings.Contains(out, "running") {
		t.Errorf("status: %d %s %s", code, out, errs)
	}
	if code, out, _ := d.cli("__complete", "restart", "root/c"); code != 0 || !strings.Contains(out, "root/calm\nroot/chatty\n") {
		t.Errorf("completion: %d %q", code, out)
	}
	if code, out, _ := d.cli("tree"); code != 0 || !strings.Contains(out, "  calm running pid") {
		t.Errorf("tree: %d %s", code, out)
	}
	// tree --watch --json: the tree, then the events as they happen.
	watch, endWatch := d.watch()
	if !watch.Scan() || !strings.Contains(watch.Text(), `"path":"root/calm"`) {
		t.Fatalf("watch: first line %q, %v", watch.Text(), watch.Err())
	}
	if code, out, _ := d.cli("stop", "root/calm"); code != 0 || !strings.Contains(out, "stopped") {
		t.Errorf("stop: %d %s", code, out)
	}
	for watch.Scan() && !strings.Contains(watch.Text(), `"kind":"child_stopped"`) {
	}
	if !strings.Contains(watch.Text(), `"child":"calm"`) {
		t.Errorf("watch: last line %q, %v", watch.Text(), watch.Err())
	}
	endWatch()
	if code, out, _ := d.cli("status"); code != 1 || !strings.Contains(out, "root/calm") {
		t.Errorf("status with a stopped permanent child: exit %d; want 1\n%s", code, out)
	}
	if code, _, errs := d.cli("start", "root/nope"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("start of an unknown path: %d %s", code, errs)
	}
	if code, _, _ := d.cli("start", "root/calm"); code != 0 {
		t.Errorf("start: %d", code)
	}
	before := d.pids()

	// SIGHUP reloads: calm is removed, extra added, chatty untouched.
	next := strings.Replace(calmTree, "name: calm", "name: extra", 1)
	if err := os.WriteFile(d.tree, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := d.cli("reload", "--dry-run"); code != 0 || !strings.Contains(out, "+ root/extra") || !strings.Contains(out, "- root/calm") {
		t.Errorf("reload --dry-run: %d %s", code, out)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog("reload applied")
	after := d.pids()
	if after["root/extra"] == 0 || after["root/calm"] != 0 || after["root/chatty"] != before["root/chatty"] || !gone(before["root/calm"]) {
		t.Errorf("after SIGHUP: %v (before %v)", after, before)
	}

	// A bad file is refused with its position; the tree stays.
	if err := os.WriteFile(d.tree, []byte(strings.Replace(next, "shutdown: 5s", "shutdown: 5 seconds", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = d.cli("reload")
	if code != 1 || !strings.Contains(errs, "tree.yaml:12:17") || !strings.Contains(errs, "is not a duration") {
		t.Errorf("bad reload: %d %s", code, errs)
	}
	if got := d.pids(); got["root/extra"] != after["root/extra"] || got["root/chatty"] != after["root/chatty"] {
		t.Errorf("bad reload touched the tree: %v (before %v)", got, after)
	}
	if code, out, errs := d.cli("signal", "root/chatty", "HUP"); code != 0 || !strings.Contains(out, "sent SIGHUP") {
		t.Errorf("signal: %d %s %s", code, out, errs)
	}
	d.waitLog("got HUP", `"child": "root/chatty"`)
	if code, out, _ := d.cli("logs", "root/chatty", "-n", "5"); code != 0 || !strings.Contains(out, "root/chatty[") || !strings.Contains(out, "stdout: got HUP") {
		t.Errorf("logs: %d %s", code, out)
	}
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != 0 {
		t.Errorf("exit %d; want 0; log:\n%s", code, strings.Join(d.seen, "\n"))
	}
	if _, err := os.Stat(d.socket); err == nil {
		t.Error("socket left behind")
	}
}

func TestRunNotifiesSystemd(t *testing.T) {
	dir, err := os.MkdirTemp("", "arbor-sd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := startDaemon(t, calmTree, "NOTIFY_SOCKET="+sock)
	read := func(want string) string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(failsafe))
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if msg := string(buf[:n]); strings.Contains(msg, want) {
				return msg
			}
		}
	}
	if msg := read("READY=1"); !strings.Contains(msg, "STATUS=2 processes: 2 running") {
		t.Errorf("ready message %q", msg)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
	if code := d.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
