package prom_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/prom"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
)

// A collector on the application's own registry, served with promhttp. The
// hook counts restarts; Watch exports the tree's state at each scrape.
func Example() {
	reg := prometheus.NewRegistry()
	c := prom.NewCollector()
	reg.MustRegister(c)

	crash := make(chan error)
	worker := child.Func(func(ctx context.Context) error {
		select {
		case err := <-crash:
			return err
		case <-ctx.Done():
			return nil
		}
	})
	// The recorder only lets this example wait for the restart.
	rec := supervisortest.NewRecorder()
	sup, err := supervisor.New("app", []child.Spec{{ID: "worker", Service: worker}},
		supervisor.WithIntensity(escalation.Intensity{MaxRestarts: 3, Period: time.Minute}),
		supervisor.WithHook(c.Hook()),
		supervisor.WithHook(rec.Hook()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := sup.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = sup.Stop(ctx) }()
	c.Watch(sup)

	crash <- errors.New("connection reset")
	if _, err := rec.WaitForNth(ctx, supervisor.ChildStarted, "worker", 2); err != nil {
		fmt.Println(err)
		return
	}

	// What a scrape of /metrics returns, without the HELP and TYPE lines.
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "arbor_") {
			fmt.Println(line)
		}
	}
	// Output:
	// arbor_child_restarts_total{child="worker",reason="error",supervisor="app"} 1
	// arbor_child_shutdown_timeouts_total{child="worker",supervisor="app"} 0
	// arbor_child_up{child="worker",supervisor="app"} 1
	// arbor_supervisor_intensity{supervisor="app"} 3
	// arbor_supervisor_intensity_exceeded_total{supervisor="app"} 0
	// arbor_supervisor_restarts_in_window{supervisor="app"} 1
	// arbor_tree_ready 1
}

// Reason names the restart reason a supervisor event is counted under.
func ExampleReason() {
	fmt.Println(prom.Reason(supervisor.Event{Kind: supervisor.ChildExited, Err: child.Shutdownf("draining"), Restarted: true}))
	fmt.Println(prom.Reason(supervisor.Event{Kind: supervisor.ChildStartFailed, Err: supervisor.ErrStartTimeout}))
	fmt.Printf("%q\n", prom.Reason(supervisor.Event{Kind: supervisor.ChildExited, Err: nil, Restarted: false}))
	// Output:
	// shutdown
	// timeout
	// ""
}
