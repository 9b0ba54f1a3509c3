// Command cluster runs a small arbor cluster in one process: an embedded etcd
// and three nodes, each with its own etcd client, a cluster-wide registry and
// a supervision tree holding the singleton "reporter". The reporter runs on
// one node at a time; it registers the name "reporter" and writes a
// heartbeat to etcd guarded by its fencing token.
//
//	go run ./examples/cluster            # from cluster/etcd; then type commands
//	go run ./examples/cluster -script    # crash the leader, then hand off, then exit
//
// Commands, one per line on standard input:
//
//	crash N   close node N's etcd client: a partition, or a crash as the others see it
//	stop N    stop node N's tree: a hand-off to the next node
//	who       look the name "reporter" up on every live node
//	quit      stop everything (so do end of input and Ctrl-C)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/cluster/etcd"
	"github.com/arborgo/arbor/supervisor"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout))
}

// event is a reporter's start or stop, for the script and the output.
type event struct {
	node    int
	started bool
	at      time.Time
}

// member is one node of the demo cluster.
type member struct {
	id    int
	cli   *clientv3.Client
	node  *etcd.Node
	names *etcd.Registry[string]
	sup   *supervisor.Supervisor

	mu      sync.Mutex
	crashed bool // guarded by mu
	stopped bool // guarded by mu
}

func run(ctx context.Context, args []string, in io.Reader, out io.Writer) int {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(out)
	n := fs.Int("nodes", 3, "number of nodes")
	ttl := fs.Duration("ttl", 2*time.Second, "session TTL (whole seconds)")
	script := fs.Bool("script", false, "crash the leader, hand off, then exit")
	dir := fs.String("data", "", "etcd data directory (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if err := demo(ctx, *n, *ttl, *script, *dir, in, out); err != nil {
		fmt.Fprintln(out, "error:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, n int, ttl time.Duration, script bool, dir string, in io.Reader, out io.Writer) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "arbor-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	srv, endpoint, err := startEtcd(dir)
	if err != nil {
		return err
	}
	defer srv.Close() // last: every client is closed before

	var mu sync.Mutex // serialises writes to out
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
	}
	events := make(chan event, 64)
	var members []*member
	defer func() {
		for _, m := range members {
			m.shutdown()
		}
	}()
	for i := 1; i <= n; i++ {
		m, err := startMember(ctx, i, endpoint, ttl, say, events)
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	say("%d nodes up, TTL %v; the reporter runs on one of them", n, ttl)
	if script {
		return runScript(ctx, members, events, say)
	}
	return runCommands(ctx, members, events, in, say)
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	local, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*local}, []url.URL{*local}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*local}, []url.URL{*local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-srv.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		srv.Close()
		return nil, "", errors.New("etcd did not start")
	}
	return srv, "http://" + srv.Clients[0].Addr().String(), nil
}

func startMember(ctx context.Context, id int, endpoint string, ttl time.Duration, say func(string, ...any), events chan<- event) (*member, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	m := &member{id: id, cli: cli}
	m.node, err = etcd.Open(ctx, etcd.Config{Client: cli, Name: fmt.Sprint("node", id), TTL: ttl, Prefix: "/demo/"})
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	m.names, err = etcd.NewRegistry[string](ctx, m.node, nil)
	if err != nil {
		m.shutdown()
		return nil, err
	}
	reporter := child.Func(func(ctx context.Context) error {
		tok, _ := cluster.TokenFrom(ctx)
		say("node%d: reporter started, token %v", id, tok)
		if err := m.names.Register(ctx, "reporter", fmt.Sprint("node", id)); err != nil && ctx.Err() == nil {
			say("node%d: register: %v", id, err)
		}
		events <- event{node: id, started: true, at: time.Now()}
		defer func() {
			say("node%d: reporter stopped", id)
			events <- event{node: id, at: time.Now()}
		}()
		tick := time.NewTicker(ttl / 2)
		defer tick.Stop()
		for beat := 1; ; beat++ {
			if err := etcd.GuardedPut(ctx, m.cli, "/demo/heartbeat", fmt.Sprint("node", id, " ", beat)); err != nil && ctx.Err() == nil {
				say("node%d: heartbeat refused: %v", id, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	})
	spec, err := cluster.Singleton(child.Spec{ID: "reporter", Service: reporter, Shutdown: ttl / 4}, m.node)
	if err == nil {
		// Leadership changes are supervisor events, with the term's token.
		terms := supervisor.WithHook(func(ev supervisor.Event) {
			if ev.Term != nil {
				say("node%d: %s, token %s@%d", id, ev.Kind, ev.Term.Key, ev.Term.Revision)
			}
		})
		m.sup, err = supervisor.New(fmt.Sprint("node", id), []child.Spec{spec}, terms)
	}
	if err == nil {
		err = m.sup.Start(context.Background())
	}
	if err != nil {
		m.shutdown()
		return nil, err
	}
	return m, nil
}

// crash closes the member's client: its leases stop being renewed.
func (m *member) crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.crashed {
		m.crashed = true
		_ = m.cli.Close()
	}
}

// stopTree stops the member's tree: a hand-off if it leads.
func (m *member) stopTree() {
	m.mu.Lock()
	already := m.stopped
	m.stopped = true
	m.mu.Unlock()
	if !already && m.sup != nil {
		_ = m.sup.Stop(context.Background())
	}
}

// shutdown stops the tree, then closes the registry, the node and the client.
func (m *member) shutdown() {
	m.stopTree()
	if m.names != nil {
		_ = m.names.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.node.Close(ctx)
	m.crash()
}

func (m *member) live() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.crashed && !m.stopped
}

// runScript waits for a leader, crashes it, waits for the failover, stops
// the new leader's tree, and waits for the hand-off.
func runScript(ctx context.Context, members []*member, events <-chan event, say func(string, ...any)) error {
	next := func(started bool) (event, error) {
		for {
			select {
			case ev := <-events:
				if ev.started == started {
					return ev, nil
				}
			case <-ctx.Done():
				return event{}, ctx.Err()
			case <-time.After(time.Minute):
				return event{}, errors.New("nothing happened for a minute")
			}
		}
	}
	first, err := next(true)
	if err != nil {
		return err
	}
	cut := time.Now()
	say("crashing node%d", first.node)
	members[first.node-1].crash()
	second, err := next(true)
	if err != nil {
		return err
	}
	say("failover: node%d took over %v after the crash", second.node, second.at.Sub(cut).Round(time.Millisecond))
	asked := time.Now()
	say("stopping node%d", second.node)
	members[second.node-1].stopTree()
	third, err := next(true)
	if err != nil {
		return err
	}
	say("hand-off: node%d took over %v after the stop", third.node, third.at.Sub(asked).Round(time.Millisecond))
	return nil
}

// runCommands reads commands from in until quit, end of input or ctx's end.
func runCommands(ctx context.Context, members []*member, events <-chan event, in io.Reader, say func(string, ...any)) error {
	lines, done := make(chan string), make(chan struct{})
	defer close(done)
	// Ends at end of input or, once runCommands has returned, after its
	// current read (which, on a terminal, ends with the process).
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	pick := func(arg string) *member {
		i, err := strconv.Atoi(strings.TrimPrefix(arg, "node"))
		if err != nil || i < 1 || i > len(members) {
			say("no node %q", arg)
			return nil
		}
		return members[i-1]
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events: // already reported by the reporters
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch cmd {
			case "crash":
				if m := pick(arg); m != nil {
					m.crash()
				}
			case "stop":
				if m := pick(arg); m != nil {
					m.stopTree()
				}
			case "who":
				for _, m := range members {
					if m.live() {
						v, ok := m.names.Lookup("reporter")
						say("node%d sees reporter = %q (%v)", m.id, v, ok)
					}
				}
			case "quit":
				return nil
			case "":
			default:
				say("commands: crash N, stop N, who, quit")
			}
		}
	}
}
