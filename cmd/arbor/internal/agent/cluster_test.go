package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
	"github.com/arborgo/arbor/registry"
)

const treeSingleton = `version: 1
node: n1
cluster: {endpoints: [e]}
root:
  children:
    - name: leader
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
      shutdown: 1s
      singleton: true
      register: {name: leader, scope: cluster}
`

func TestReloadKeepsASingletonRunning(t *testing.T) {
	var names registry.Registry[Location]
	f := newFixture(t, treeSingleton, WithCluster(Cluster{Elector: new(cluster.Local), Names: &names}))
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	before, err := names.Wait(ctx, "leader")
	if err != nil || before.PID == 0 || before.Node != "n1" || before.Path != "root/leader" {
		t.Fatalf("leader = %+v, %v", before, err)
	}
	next, err := treefile.Parse(f.path, []byte(treeSingleton+"    - {name: b, command: /bin/sh, args: [-c, exec sleep 1000]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := f.a.ReloadFile(ctx, next, false)
	if err != nil || !plan.Applied || strings.Join(plan.Unchanged, ",") != "root,root/leader" {
		t.Fatalf("reload: %+v, %v", plan, err)
	}
	if after, ok := names.Lookup("leader"); !ok || after != before {
		t.Errorf("after the reload, leader = %+v, %v; want %+v, untouched", after, ok, before)
	}
}

func TestReloadRefusesAClusterTreeWithoutEngine(t *testing.T) {
	f := newFixture(t, treeAB)
	next, err := treefile.Parse(f.path, []byte(treeSingleton))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.ReloadFile(context.Background(), next, false); !errors.Is(err, errNoEngine) {
		t.Errorf("reload = %v; want %v", err, errNoEngine)
	}
}

func TestANameHeldElsewhereFailsTheStart(t *testing.T) {
	var names registry.Registry[Location]
	held := Location{Node: "n2", Path: "root/db", PID: 42}
	if err := names.Register(context.Background(), "db", held); err != nil {
		t.Fatal(err)
	}
	f, err := treefile.Parse("tree.yaml", []byte(`version: 1
cluster: {endpoints: [e]}
root:
  children:
    - name: db
      command: /bin/sh
      args: ["-c", "echo >&3; exec sleep 1000"]
      readiness: {notify: fd:3}
      register: {name: db, scope: cluster}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := proc.NewReaper(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, err := New(f, "tree.yaml", r, nil, WithCluster(Cluster{Elector: new(cluster.Local), Names: &names}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	err = a.Root().Start(ctx)
	var taken *registry.TakenError[Location]
	if !errors.As(err, &taken) || taken.Holder != held {
		t.Errorf("Start = %v; want the name taken by %+v", err, held)
	}
	if got, _ := names.Lookup("db"); got != held {
		t.Errorf("db = %+v; want %+v, still held", got, held)
	}
}
