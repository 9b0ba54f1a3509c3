package httpchild_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/httpchild"
	"github.com/arborgo/arbor/supervisor"
)

// An HTTP server as a child: it is ready once it accepts connections, so the
// sibling after it can call it straight away, and a stop shuts it down
// within the child's budget.
func ExampleNew() {
	srv := &http.Server{
		Addr: "127.0.0.1:0", // any free port; Addr() says which
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello from", child.Path(r.Context()))
		}),
	}
	api := httpchild.New(srv)
	root, _ := supervisor.New("root", []child.Spec{
		{ID: "api", Service: api, AwaitReady: true},
	})
	if err := root.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer root.Stop(context.Background())

	resp, err := http.Get("http://" + api.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// hello from root/api
}
