package treeview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/supervisor/supervisortest"
	"github.com/arborgo/arbor/treeview"
)

// Mount the view under a prefix on an admin mux; tree.json is the snapshot,
// the prefix itself the page that draws it.
func ExampleHandler() {
	clock := supervisortest.NewClock(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC))
	api := child.Func(func(ctx context.Context) error {
		child.Ready(ctx)
		<-ctx.Done()
		return nil
	})
	root, err := supervisor.New("root", []child.Spec{{ID: "api", Service: api, AwaitReady: true}}, supervisor.WithClock(clock))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := root.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer root.Stop(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/debug/arbor/", http.StripPrefix("/debug/arbor", treeview.Handler(root, treeview.WithClock(clock))))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/arbor/tree.json", nil))
	var out bytes.Buffer
	_ = json.Indent(&out, w.Body.Bytes(), "", "  ")
	fmt.Println(out.String())
	// Output:
	// {
	//   "time": "2026-11-27T05:00:00Z",
	//   "root": {
	//     "name": "root",
	//     "path": "root",
	//     "kind": "supervisor",
	//     "state": "running",
	//     "ready": true,
	//     "restarts": 0,
	//     "strategy": "one_for_one",
	//     "intensity": {
	//       "max_restarts": 1,
	//       "period": "5s",
	//       "restarts_in_window": 0
	//     },
	//     "children": [
	//       {
	//         "name": "api",
	//         "path": "root/api",
	//         "kind": "worker",
	//         "restart": "permanent",
	//         "state": "running",
	//         "ready": true,
	//         "restarts": 0,
	//         "started_at": "2026-11-27T05:00:00Z"
	//       }
	//     ]
	//   }
	// }
}
