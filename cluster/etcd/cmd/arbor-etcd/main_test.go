package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arborgo/arbor/cluster/etcd/internal/etcdtest"
	"github.com/arborgo/arbor/cmd/arbor/cli"
)

// failAfter bounds every wait: a failure timeout, never a measure.
const failAfter = 60 * time.Second

// bin is arbor-etcd, built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbor-etcd-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "arbor-etcd")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("building arbor-etcd: %v\n%s", err, out))
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// startEtcd starts a single-member embedded etcd, closed at the end of the
// test (after the agents: their cleanups are registered later), and returns
// its client URL.
func startEtcd(t *testing.T) string {
	t.Helper()
	return etcdtest.Start(t, failAfter)
}

// agentProc is an arbor-etcd run started by a test.
type agentProc struct {
	t      *testing.T
	node   string
	cmd    *exec.Cmd
	socket string
	lines  chan string // its stderr, line by line; closed at EOF
	seen   []string    // the lines read so far
	exited chan error
}

const treeFmt = `version: 1
node: %s
cluster:
  endpoints: [%q]
  prefix: /%s/
root:
  children:
    - name: leader
      command: /bin/sh
      args: ["-c", "exec sleep 1000"]
      shutdown: 1s
      readiness: {uptime: 0s}
      singleton: true
      register: {name: leader, scope: cluster}
`

// startAgent runs arbor-etcd as node on a tree with one singleton.
func startAgent(t *testing.T, node, endpoint string) *agentProc {
	t.Helper()
	dir, err := os.MkdirTemp("", "arbor-etcd-") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tree := filepath.Join(dir, "tree.yaml")
	if err := os.WriteFile(tree, fmt.Appendf(nil, treeFmt, node, endpoint, t.Name()), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, node: node, socket: filepath.Join(dir, "s"), lines: make(chan string, 10000), exited: make(chan error, 1)}
	a.cmd = exec.Command(bin, "run", "--socket", a.socket, "--http", "", "-c", tree)
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends at EOF, when the agent has exited
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
		close(a.lines)
		a.exited <- a.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		for range a.lines {
		}
		<-a.exited
		a.exited <- nil
	})
	return a
}

// registered is the log line of the singleton's name registration.
var registered = []string{"name registered", `"child": "root/leader"`}

func matches(l string, subs []string) bool {
	for _, s := range subs {
		if !strings.Contains(l, s) {
			return false
		}
	}
	return true
}

// started is the log line of a tree that has started.
var started = []string{"arbor.daemon\tstarted\t"}

// first waits for the first of the agents to log a line with every one of
// subs (or finds one it has already read), and returns it.
func first(t *testing.T, subs []string, agents ...*agentProc) *agentProc {
	t.Helper()
	for _, a := range agents {
		for _, l := range a.seen {
			if matches(l, subs) {
				return a
			}
		}
	}
	cases := make([]reflect.SelectCase, 0, len(agents)+1)
	for _, a := range agents {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(a.lines)})
	}
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(failAfter))})
	for {
		i, v, ok := reflect.Select(cases)
		if i == len(agents) {
			for _, a := range agents {
				t.Logf("%s's log:\n%s", a.node, strings.Join(a.seen, "\n"))
			}
			t.Fatalf("no agent logged %q", subs)
		}
		a := agents[i]
		if !ok {
			t.Fatalf("%s exited before logging %q; log:\n%s", a.node, subs, strings.Join(a.seen, "\n"))
		}
		l := v.String()
		a.seen = append(a.seen, l)
		if matches(l, subs) {
			return a
		}
	}
}

// cli runs an arbor command against the agent and decodes its JSON output.
func (a *agentProc) cli(out any, args ...string) {
	a.t.Helper()
	var stdout, stderr strings.Builder
	if code := cli.Main(append([]string{"--socket", a.socket}, args...), &stdout, &stderr); code != 0 {
		a.t.Fatalf("%s %v: exit %d: %s", a.node, args, code, stderr.String())
	}
	if err := json.Unmarshal([]byte(stdout.String()), out); err != nil {
		a.t.Fatalf("%s %v: %v: %s", a.node, args, err, stdout.String())
	}
}

// singleton returns the pid of the agent's singleton process, 0 if it does
// not run it, and the location of the cluster name leader in its registry.
func (a *agentProc) singleton() (pid int, at cli.Location) {
	a.t.Helper()
	var rows []struct {
		Path string
		PID  int
	}
	a.cli(&rows, "status", "--json", "root/leader")
	var names []struct {
		Name, Scope string
		cli.Location
	}
	a.cli(&names, "names", "--json")
	for _, n := range names {
		if n.Name == "leader" && n.Scope == "cluster" {
			at = n.Location
		}
	}
	return rows[0].PID, at
}

// stop stops the agent with SIGTERM and checks that it exits 0.
func (a *agentProc) stop() {
	a.t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.t.Fatal(err)
	}
	for range a.lines {
	}
	if err := <-a.exited; err != nil {
		a.t.Errorf("%s: %v", a.node, err)
	}
	a.exited <- nil // for the cleanup
}

// TestOneNodeRunsTheSingleton runs two arbor-etcd agents on one tree: one
// runs the singleton and holds its name, the other waits, and takes over
// when the first stops.
func TestOneNodeRunsTheSingleton(t *testing.T) {
	endpoint := startEtcd(t)
	a, b := startAgent(t, "a", endpoint), startAgent(t, "b", endpoint)
	leader := first(t, registered, a, b)
	follower := map[*agentProc]*agentProc{a: b, b: a}[leader]
	first(t, started, follower)

	pid, at := leader.singleton()
	if pid == 0 || at != (cli.Location{Node: leader.node, Path: "root/leader", PID: pid}) {
		t.Errorf("on the leader %s: pid %d, name at %+v", leader.node, pid, at)
	}
	// The follower is a candidate: it cannot run the process while the
	// leader holds the lease.
	if pid, _ := follower.singleton(); pid != 0 {
		t.Errorf("the follower %s runs the singleton too, pid %d", follower.node, pid)
	}

	leader.stop()
	if got := first(t, registered, follower); got != follower {
		t.Fatal("unreachable")
	}
	pid, at = follower.singleton()
	if pid == 0 || at != (cli.Location{Node: follower.node, Path: "root/leader", PID: pid}) {
		t.Errorf("after the takeover, on %s: pid %d, name at %+v", follower.node, pid, at)
	}
	follower.stop()
}
