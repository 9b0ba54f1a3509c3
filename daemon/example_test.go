package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/daemon"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/supervisor"
)

// A daemon's main builds its tree and hands it to Run. Here a signal is sent
// on an injected channel as soon as the tree is up; a real main leaves out
// WithSignals and passes the result to os.Exit.
func ExampleRun() {
	resource := func(name string) child.Spec {
		return child.Spec{ID: name, AwaitReady: true, Service: child.Func(func(ctx context.Context) error {
			fmt.Println("open", name)
			child.Ready(ctx)
			<-ctx.Done()
			fmt.Println("close", name)
			return nil
		})}
	}
	sigs := make(chan os.Signal, 1)
	root, err := supervisor.New("root", []child.Spec{resource("db"), resource("http")},
		supervisor.WithHook(func(ev supervisor.Event) {
			if ev.Kind == supervisor.SupervisorReady {
				sigs <- syscall.SIGTERM // as if the platform asked the daemon to stop
			}
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	code := daemon.Run(context.Background(), root,
		daemon.WithSignals(sigs),
		daemon.WithShutdownBudget(10*time.Second),
		daemon.WithLogger(zap.NewNop()))
	fmt.Println("exit code", code)
	// Output:
	// open db
	// open http
	// close http
	// close db
	// exit code 0
}

func ExampleExitCode() {
	gaveUp := &supervisor.GiveUpError{Supervisor: "root", Child: "db", Err: errors.New("connection refused"), Reason: escalation.ErrExceeded}
	abandoned := &supervisor.StopTimeoutError{Supervisor: "root", Child: "db", Budget: 5 * time.Second}
	fmt.Println(daemon.ExitCode(nil))
	fmt.Println(daemon.ExitCode(&supervisor.StartError{Supervisor: "root", Child: "db", Err: errors.New("bad password")}))
	fmt.Println(daemon.ExitCode(gaveUp))
	fmt.Println(daemon.ExitCode(abandoned))
	fmt.Println(daemon.ExitCode(errors.Join(gaveUp, abandoned)))
	// Output:
	// 0
	// 1
	// 2
	// 3
	// 2
}
