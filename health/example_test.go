package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/health"
	"github.com/arborgo/arbor/supervisor"
)

func ExampleRegister() {
	worker := func(id string) child.Spec {
		return child.Spec{ID: id, AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			child.Ready(ctx)
			<-ctx.Done()
			return nil
		})}
	}
	root, err := supervisor.New("root", []child.Spec{worker("db"), worker("api")})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	health.Register(mux, root)

	get := func(target string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Printf("%s: %d\n%s\n", target, w.Code, w.Body)
	}
	get("/readyz") // not started yet

	if err := root.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer root.Stop(context.Background())
	get("/livez")
	get("/readyz?verbose")
	// Output:
	// /readyz: 503
	// [-]ping failed: supervisor: not running
	// readyz check failed
	//
	// /livez: 200
	// ok
	// /readyz?verbose: 200
	// [+]ping ok
	// [+]shutdown ok
	// [+]root ok
	// [+]root/db ok
	// [+]root/api ok
	// readyz check passed
}
