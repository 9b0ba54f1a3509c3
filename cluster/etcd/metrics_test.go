package etcd

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/arborgo/arbor/prom"
)

// TestRegistryConflictsCountedAcrossNodes: a Register refused because
// another node holds the name is counted by prom.CountConflicts.
func TestRegistryConflictsCountedAcrossNodes(t *testing.T) {
	endpoint := startEtcd(t)
	na, _ := newNode(t, endpoint, "a", testTTL)
	nb, _ := newNode(t, endpoint, "b", testTTL)
	c := prom.NewCollector()
	ra := newRegistry(t, na)
	rb := prom.CountConflicts[string](c, "cluster", newRegistry(t, nb))
	ctx := testCtx(t)

	inc, end := context.WithCancel(ctx)
	defer end()
	if err := ra.Register(inc, "db", "a:5432"); err != nil {
		t.Fatal(err)
	}
	if err := rb.Register(ctx, "db", "b:5432"); err == nil {
		t.Fatal("Register on b succeeded while a holds db")
	}
	want := `# HELP arbor_registry_conflicts_total Registers refused because another live entry held the name (registry.ErrTaken), from prom.CountConflicts.
# TYPE arbor_registry_conflicts_total counter
arbor_registry_conflicts_total{registry="cluster"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "arbor_registry_conflicts_total"); err != nil {
		t.Fatal(err)
	}
}
