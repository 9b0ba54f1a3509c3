package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/internal/agent"
	"github.com/arborgo/arbor/registry"
)

const clusterTree = `version: 1
node: n1
cluster: {endpoints: ["http://127.0.0.1:1"]}
root:
  children:
    - name: leader
      command: /bin/sh
      args: ["-c", "exec sleep 1000"]
      shutdown: 1s
      readiness: {uptime: 0s}
      singleton: true
      register: {name: leader, scope: cluster}
    - name: db
      command: /bin/sh
      args: ["-c", "exec sleep 1000"]
      readiness: {uptime: 0s}
      register: db
`

const noEngine = ":3:1: cluster: this arbor has no cluster engine: run the file with arbor-etcd " +
	"(go install github.com/arborgo/arbor/cluster/etcd/cmd/arbor-etcd@latest)"

func TestPlainArborRefusesAClusterTree(t *testing.T) {
	tree := writeFile(t, "tree.yaml", clusterTree)
	socket := filepath.Join(t.TempDir(), "s")
	code, _, errs := runCLI(t, "run", "--socket", socket, "--http", "", "-c", tree)
	if code != 2 || errs != tree+noEngine+"\n" {
		t.Errorf("run: exit %d, stderr %q; want 2, %q", code, errs, tree+noEngine+"\n")
	}
	code, out, errs := runCLI(t, "validate", "-c", tree)
	if code != 0 || !strings.Contains(out, "valid") || errs != "warning: "+tree+noEngine+"\n" {
		t.Errorf("validate: exit %d, %q, stderr %q; want 0 and the warning", code, out, errs)
	}
	// With an engine, the file is valid with no warning.
	var stdout, stderr strings.Builder
	connect := func(context.Context, Cluster) (*Engine, error) {
		return &Engine{Elector: new(cluster.Local), Names: new(registry.Registry[Location])}, nil
	}
	if code := Main([]string{"validate", "-c", tree}, &stdout, &stderr, WithCluster(connect)); code != 0 || stderr.Len() != 0 {
		t.Errorf("validate with an engine: exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
}

func TestRunClusterSingletonAndNames(t *testing.T) {
	d := startBinary(t, clusterBin, clusterTree)
	d.waitLog("connect: node n1, endpoints http://127.0.0.1:1, ttl 10s, margin 6s, prefix /arbor/")
	registered := map[string]bool{}
	for range 2 {
		l := d.waitLog("name registered")
		for _, p := range []string{"root/leader", "root/db"} {
			registered[p] = registered[p] || strings.Contains(l, `"child": "`+p+`"`)
		}
	}
	if !registered["root/leader"] || !registered["root/db"] {
		t.Fatalf("registered %v; want root/leader and root/db", registered)
	}
	pids := d.pids()
	want := []agent.Name{
		{Name: "db", Scope: "local", Location: agent.Location{Node: "n1", Path: "root/db", PID: pids["root/db"]}},
		{Name: "leader", Scope: "cluster", Location: agent.Location{Node: "n1", Path: "root/leader", PID: pids["root/leader"]}},
	}
	if got := d.names(); pids["root/leader"] == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("names = %+v\nwant %+v (pids %v)", got, want, pids)
	}
	if code, out, _ := d.cli("names"); code != 0 || !strings.Contains(out, "leader  cluster  n1    root/leader") {
		t.Errorf("names: exit %d\n%s", code, out)
	}

	// Stopping the singleton ends its term, seen as an event, and
	// unregisters its name.
	watch, endWatch := d.watch()
	if !watch.Scan() {
		t.Fatalf("watch: %v", watch.Err())
	}
	if code, _, errs := d.cli("stop", "root/leader"); code != 0 {
		t.Errorf("stop: exit %d %s", code, errs)
	}
	for watch.Scan() && !strings.Contains(watch.Text(), `"kind":"leadership_released"`) {
	}
	if !strings.Contains(watch.Text(), `"supervisor":"root","child":"leader"`) || !strings.Contains(watch.Text(), `"term":"root.leader `) {
		t.Errorf("watch: last line %q, %v", watch.Text(), watch.Err())
	}
	endWatch()
	if got := d.names(); !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("names after the singleton's stop = %+v\nwant %+v", got, want[:1])
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
	if !strings.Contains(strings.Join(d.seen, "\n"), "engine closed") {
		t.Errorf("the engine was not closed; log:\n%s", strings.Join(d.seen, "\n"))
	}
}

func (d *daemonProc) names() []agent.Name {
	d.t.Helper()
	code, out, errs := d.cli("names", "--json")
	var rows []agent.Name
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		d.t.Fatalf("names: exit %d, %v: %s %s", code, err, out, errs)
	}
	return rows
}

// When the engine says the node's membership has ended, arbor stops the
// tree, closes the engine and exits 1, for the service manager to start it
// again with a new session.
func TestClusterSessionLostStopsTheTree(t *testing.T) {
	d := startBinary(t, clusterBin, clusterTree)
	d.waitLog("name registered")
	d.waitLog("name registered")
	if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil { // the engine's Lost
		t.Fatal(err)
	}
	d.waitLog("cluster session lost")
	if code := d.wait(); code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	if log := strings.Join(d.seen, "\n"); !strings.Contains(log, "engine closed") {
		t.Errorf("the engine was not closed; log:\n%s", log)
	}
}
