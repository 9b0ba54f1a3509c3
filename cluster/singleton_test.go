package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cluster"
	"github.com/arborgo/arbor/supervisor"
)

// journal is a shared, ordered record of what happened.
type journal struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func newJournal() *journal { return &journal{ch: make(chan string, 64)} }

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	j.mu.Unlock()
	j.ch <- s
}

// expect waits for the next line and checks it.
func (j *journal) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-j.ch:
		if got != want {
			t.Fatalf("next event = %q; want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %q", want)
	}
}

// fakeElector grants every campaign at once, with a term the test controls.
type fakeElector struct {
	j      *journal
	margin time.Duration
	mu     sync.Mutex
	rev    int64
	terms  chan *fakeLease
	hold   chan struct{} // if not nil, a campaign waits for it to close (set only between campaigns)
}

func newFakeElector(j *journal) *fakeElector {
	return &fakeElector{j: j, margin: time.Second, terms: make(chan *fakeLease, 8)}
}

func (e *fakeElector) Margin() time.Duration { return e.margin }

func (e *fakeElector) Campaign(ctx context.Context, name string) (cluster.Lease, error) {
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.mu.Lock()
	e.rev++
	l := &fakeLease{j: e.j, tok: cluster.Token{Key: name, Revision: e.rev}, lost: make(chan struct{})}
	e.mu.Unlock()
	e.j.add("granted")
	e.terms <- l
	return l, nil
}

type fakeLease struct {
	j        *journal
	tok      cluster.Token
	lost     chan struct{}
	loseOnce sync.Once
	gate     chan struct{} // if not nil, Release waits for it to close (set before the term ends)
}

func (l *fakeLease) Token() cluster.Token  { return l.tok }
func (l *fakeLease) Lost() <-chan struct{} { return l.lost }
func (l *fakeLease) lose()                 { l.loseOnce.Do(func() { close(l.lost) }) }
func (l *fakeLease) Release(context.Context) error {
	if l.gate != nil {
		<-l.gate
	}
	l.j.add("released")
	return nil
}

// worker records its start (with its token) and its return.
func worker(j *journal) child.Func {
	return func(ctx context.Context) error {
		tok, ok := cluster.TokenFrom(ctx)
		if !ok {
			j.add("started without token")
			return errors.New("no token")
		}
		j.add("started " + tok.String())
		<-ctx.Done()
		j.add("stopped")
		return nil
	}
}

// startSingleton starts a supervisor whose one child is the singleton "s"
// around worker(j), on e.
func startSingleton(t *testing.T, j *journal, e cluster.Elector, opts ...cluster.SingletonOption) *supervisor.Supervisor {
	t.Helper()
	spec, err := cluster.Singleton(child.Spec{ID: "s", Service: worker(j), Shutdown: 500 * time.Millisecond}, e, opts...)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New("root", []child.Spec{spec})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sup
}

func TestSingletonStepsDownBeforeRelease(t *testing.T) {
	j := newJournal()
	e := newFakeElector(j)
	sup := startSingleton(t, j, e)
	j.expect(t, "granted")
	j.expect(t, "started s@1")
	(<-e.terms).lose()
	j.expect(t, "stopped")
	j.expect(t, "released")
	// A lost term is not an exit: the candidate campaigns again.
	j.expect(t, "granted")
	j.expect(t, "started s@2")
	<-e.terms
	// A hand-off: stop the child, await its return, then release.
	if err := sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.expect(t, "stopped")
	j.expect(t, "released")
}

func TestSingletonBudgetMustFitMargin(t *testing.T) {
	e := newFakeElector(newJournal())
	svc := child.Func(func(context.Context) error { return nil })
	for _, d := range []time.Duration{0 /* default 5 s */, time.Second, child.Infinity, child.BrutalKill} {
		_, err := cluster.Singleton(child.Spec{ID: "s", Service: svc, Shutdown: d}, e)
		if !errors.Is(err, cluster.ErrBudget) {
			t.Errorf("Shutdown %v: err = %v; want ErrBudget", d, err)
		}
	}
	if _, err := cluster.Singleton(child.Spec{ID: "s", Service: svc, Shutdown: time.Second}, nil); !errors.Is(err, cluster.ErrNilElector) {
		t.Errorf("nil elector: err = %v; want ErrNilElector", err)
	}
	if _, err := cluster.Singleton(child.Spec{ID: "s"}, e); !errors.Is(err, child.ErrInvalidSpec) {
		t.Errorf("no service: err = %v; want child.ErrInvalidSpec", err)
	}
}

func TestSingletonReleasesWhenChildReturns(t *testing.T) {
	j := newJournal()
	e := newFakeElector(j)
	boom := errors.New("boom")
	var hooks []cluster.Leadership
	spec, err := cluster.Singleton(child.Spec{ID: "s", Restart: child.Temporary, Shutdown: 100 * time.Millisecond,
		Service: child.Func(func(ctx context.Context) error { j.add("ran"); return boom })}, e,
		cluster.WithName("job"), cluster.WithLeadershipHook(func(l cluster.Leadership) { hooks = append(hooks, l) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Service.Serve(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Serve = %v; want boom", err)
	}
	j.expect(t, "granted")
	j.expect(t, "ran")
	j.expect(t, "released")
	want := []cluster.Leadership{
		{Name: "job", Token: cluster.Token{Key: "job", Revision: 1}, Leading: true},
		{Name: "job", Token: cluster.Token{Key: "job", Revision: 1}},
	}
	if len(hooks) != 2 || hooks[0] != want[0] || hooks[1] != want[1] {
		t.Fatalf("hooks = %+v; want %+v", hooks, want)
	}
}

func TestLocalElector(t *testing.T) {
	var e cluster.Local
	ctx := context.Background()
	l1, err := e.Campaign(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := e.Campaign(short, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second campaign = %v; want DeadlineExceeded", err)
	}
	other, err := e.Campaign(ctx, "y") // names are independent
	if err != nil {
		t.Fatal(err)
	}
	_ = other.Release(ctx)
	_ = l1.Release(ctx)
	_ = l1.Release(ctx) // idempotent
	l2, err := e.Campaign(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l2.Token(), (cluster.Token{Key: "x", Revision: 2}); got != want {
		t.Fatalf("token = %v; want %v", got, want)
	}
	if l2.Lost() != nil {
		t.Fatal("a local term can be lost")
	}
	if _, err := cluster.Singleton(child.Spec{ID: "s", Service: child.Func(func(context.Context) error { return nil })}, &e); err != nil {
		t.Fatalf("default budget with Local: %v", err)
	}
}

// A singleton's terms are supervisor events, in order with its child's: won
// after its start, lost before the next term, released before its stop.
func TestSingletonLeadershipEvents(t *testing.T) {
	j := newJournal()
	e := newFakeElector(j)
	spec, err := cluster.Singleton(child.Spec{ID: "s", Service: worker(j), Shutdown: 500 * time.Millisecond}, e, cluster.WithName("job"))
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan string, 32)
	core, logs := observer.New(zapcore.InfoLevel)
	sup, err := supervisor.New("root", []child.Spec{spec}, supervisor.WithLogger(zap.New(core)), supervisor.WithHook(func(ev supervisor.Event) {
		if ev.Kind == supervisor.SupervisorReady {
			return // the candidate may win before or after the supervisor reports ready
		}
		line := ev.Kind.String() + " " + ev.Child
		if ev.Term != nil {
			line += " " + ev.Term.String()
		}
		events <- line
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("next event = %q; want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %q", want)
		}
	}
	// Info shows the term the child leads.
	term := func() string {
		t.Helper()
		infos, err := sup.Children(context.Background())
		if err != nil || len(infos) != 1 {
			t.Fatalf("Children = %v, %v", infos, err)
		}
		if infos[0].Term == nil {
			return "none"
		}
		return infos[0].Term.String()
	}
	expect("child_started s")
	expect("leadership_acquired s job job@1")
	if got := term(); got != "job job@1" {
		t.Errorf("term while leading = %s; want job job@1", got)
	}
	l := <-e.terms
	e.hold = make(chan struct{}) // the next campaign waits, so the gap between terms can be seen
	l.lose()
	expect("leadership_lost s job job@1")
	if got := term(); got != "none" {
		t.Errorf("term between terms = %s; want none", got)
	}
	close(e.hold)
	expect("leadership_acquired s job job@2")
	if got := term(); got != "job job@2" {
		t.Errorf("term while leading again = %s; want job job@2", got)
	}
	<-e.terms
	if err := sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect("leadership_released s job job@2")
	expect("child_stopped s")
	expect("supervisor_stopped ")

	// The log says the same, with the name and the token.
	var got []string
	for _, le := range logs.FilterMessageSnippet("leadership").All() {
		f := le.ContextMap()
		got = append(got, fmt.Sprintf("%s %s: %v %v %v", le.Level, le.Message, f["child"], f["singleton"], f["token"]))
	}
	want := []string{
		"info leadership acquired: s job job@1",
		"warn leadership lost: s job job@1",
		"info leadership acquired: s job job@2",
		"info leadership released: s job job@2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A lost term is reported as soon as the child has returned, while the
// release may still hang on a broken connection: another node may be
// promoted meanwhile, and nothing may still say this one leads.
func TestSingletonLostReportedBeforeRelease(t *testing.T) {
	j := newJournal()
	e := newFakeElector(j)
	hooks := make(chan cluster.Leadership, 4)
	sup := startSingleton(t, j, e, cluster.WithLeadershipHook(func(l cluster.Leadership) { hooks <- l }))
	j.expect(t, "granted")
	j.expect(t, "started s@1")
	if l := <-hooks; !l.Leading {
		t.Fatalf("first report = %+v; want the term's start", l)
	}
	l := <-e.terms
	l.gate = make(chan struct{})
	e.hold = make(chan struct{}) // no next term before the test says
	l.lose()
	j.expect(t, "stopped")
	select {
	case got := <-hooks:
		if got.Leading || !got.Lost || got.Token.Revision != 1 {
			t.Fatalf("report = %+v; want the lost end of term 1", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lost term was not reported while its release hung")
	}
	close(l.gate)
	j.expect(t, "released")
	close(e.hold)
	j.expect(t, "granted")
	j.expect(t, "started s@2")
	<-e.terms
	if err := sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.expect(t, "stopped")
	j.expect(t, "released")
}
