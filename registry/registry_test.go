package registry

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// heldCleanups replaces afterFunc for the duration of a test: the cleanups
// that Register schedules are recorded instead, and run only when the test
// calls run, synchronously. This lets a test decide exactly when (and
// whether) the cleanup of an entry happens.
type heldCleanups struct {
	mu sync.Mutex
	fs []func() // guarded by mu; in scheduling order
}

func holdCleanups(t testing.TB) *heldCleanups {
	t.Helper()
	h := &heldCleanups{}
	afterFunc = func(_ context.Context, f func()) func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.fs = append(h.fs, f)
		return func() bool { return false }
	}
	t.Cleanup(func() { afterFunc = context.AfterFunc })
	return h
}

// run runs the i-th scheduled cleanup, as the context package would once
// the entry's context is done.
func (h *heldCleanups) run(t *testing.T, i int) {
	t.Helper()
	h.mu.Lock()
	n := len(h.fs)
	var f func()
	if i < n {
		f = h.fs[i]
	}
	h.mu.Unlock()
	if f == nil {
		t.Fatalf("cleanup %d not scheduled (%d are)", i, n)
	}
	f()
}

// stored reports whether name has an entry in memory, live or not.
func stored[V any](r *Registry[V], name string) bool {
	_, ok := r.entries.Load(name)
	return ok
}

// setWaitHook installs testHookWaitBlocking for the duration of the test and
// returns a channel receiving the name each time a Wait is about to block.
func setWaitHook(t *testing.T) <-chan string {
	t.Helper()
	ch := make(chan string, 16)
	testHookWaitBlocking = func(name string) { ch <- name }
	t.Cleanup(func() { testHookWaitBlocking = nil })
	return ch
}

func TestRegisterErrors(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()

	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		wantIs  error
		wantMsg string
		holder  int // when wantIs is ErrTaken
	}{
		{name: "nil context", ctx: nil, key: "a", wantIs: ErrNilContext, wantMsg: "nil context"},
		{name: "empty name", ctx: context.Background(), key: "", wantIs: ErrInvalidName, wantMsg: "empty"},
		{name: "cancelled context", ctx: done, key: "a", wantIs: context.Canceled, wantMsg: `"a"`},
		{name: "expired context", ctx: expired, key: "a", wantIs: context.DeadlineExceeded, wantMsg: `"a"`},
		{name: "taken", ctx: context.Background(), key: "held", wantIs: ErrTaken, wantMsg: `"held"`, holder: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Registry[int]
			live, stop := context.WithCancel(context.Background())
			defer stop()
			if err := r.Register(live, "held", 7); err != nil {
				t.Fatalf("setup Register: %v", err)
			}

			err := r.Register(tt.ctx, tt.key, 1)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("Register error = %v, want errors.Is %v", err, tt.wantIs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "registry: ") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error message %q: want prefix %q and to contain %q", msg, "registry: ", tt.wantMsg)
			}
			var taken *TakenError[int]
			if got := errors.As(err, &taken); got != (tt.wantIs == ErrTaken) {
				t.Fatalf("errors.As(*TakenError) = %v, want %v", got, tt.wantIs == ErrTaken)
			}
			if taken != nil && (taken.Name != tt.key || taken.Holder != tt.holder) {
				t.Errorf("TakenError = {%q, %d}, want {%q, %d}", taken.Name, taken.Holder, tt.key, tt.holder)
			}
			// A failed Register changes nothing.
			if v, ok := r.Lookup("held"); !ok || v != 7 {
				t.Errorf("Lookup(held) = %d, %v after failed Register, want 7, true", v, ok)
			}
			if got := r.Names(); !slices.Equal(got, []string{"held"}) {
				t.Errorf("Names() = %q, want [held]", got)
			}
		})
	}
}

func TestWaitErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()

	tests := []struct {
		name   string
		ctx    context.Context
		key    string
		wantIs error
	}{
		{name: "nil context", ctx: nil, key: "a", wantIs: ErrNilContext},
		{name: "empty name", ctx: context.Background(), key: "", wantIs: ErrInvalidName},
		{name: "cancelled context", ctx: cancelled, key: "a", wantIs: context.Canceled},
		{name: "expired context", ctx: expired, key: "a", wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Registry[string]
			v, err := r.Wait(tt.ctx, tt.key)
			if !errors.Is(err, tt.wantIs) || v != "" {
				t.Fatalf("Wait = %q, %v; want \"\", errors.Is %v", v, err, tt.wantIs)
			}
			if r.waiters[tt.key] != nil {
				t.Errorf("wait slot for %q left behind", tt.key)
			}
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	sentinels := []error{ErrInvalidName, ErrNilContext, ErrTaken}
	for i, a := range sentinels {
		if !strings.HasPrefix(a.Error(), "registry: ") {
			t.Errorf("%q lacks the registry: prefix", a)
		}
		for j, b := range sentinels {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
	err := fmt.Errorf("start db: %w", &TakenError[string]{Name: "db", Holder: "conn-1"})
	var taken *TakenError[string]
	if !errors.Is(err, ErrTaken) || !errors.As(err, &taken) || taken.Holder != "conn-1" {
		t.Errorf("wrapped TakenError not matched: %v", err)
	}
}

func TestZeroValueLookup(t *testing.T) {
	var r Registry[int]
	if v, ok := r.Lookup("x"); ok || v != 0 {
		t.Errorf("Lookup on empty registry = %d, %v", v, ok)
	}
	if v, ok := r.Lookup(""); ok || v != 0 {
		t.Errorf("Lookup(\"\") = %d, %v", v, ok)
	}
	if n := r.Names(); len(n) != 0 {
		t.Errorf("Names() = %q", n)
	}
	if n := r.Len(); n != 0 {
		t.Errorf("Len() = %d", n)
	}
}

func TestLookupAbsentAsSoonAsCancelled(t *testing.T) {
	cleanups := holdCleanups(t) // cleanup never runs unless the test runs it
	var r Registry[string]
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Register(ctx, "db", "conn-1"); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Lookup("db"); !ok || v != "conn-1" {
		t.Fatalf("Lookup = %q, %v; want conn-1, true", v, ok)
	}
	cancel()
	if v, ok := r.Lookup("db"); ok {
		t.Fatalf("Lookup after cancel = %q, true; want absent", v)
	}
	if got := r.Names(); len(got) != 0 {
		t.Errorf("Names() after cancel = %q", got)
	}
	if n := r.Len(); n != 0 {
		t.Errorf("Len() after cancel = %d", n)
	}
	if !stored(&r, "db") {
		t.Fatal("entry removed although its cleanup has not run")
	}
	cleanups.run(t, 0)
	if stored(&r, "db") {
		t.Error("cleanup did not remove its own entry")
	}
}

func TestReregisterBeforeCleanup(t *testing.T) {
	cleanups := holdCleanups(t)
	var r Registry[int]
	old, cancelOld := context.WithCancel(context.Background())
	if err := r.Register(old, "svc", 1); err != nil {
		t.Fatal(err)
	}
	cancelOld()

	// The old incarnation's cleanup is held back: its entry is still in
	// memory, yet the name is free.
	if !stored(&r, "svc") {
		t.Fatal("old entry already removed; the test would prove nothing")
	}
	cur, cancelCur := context.WithCancel(context.Background())
	if err := r.Register(cur, "svc", 2); err != nil {
		t.Fatalf("Register of new incarnation before old cleanup: %v", err)
	}
	if v, ok := r.Lookup("svc"); !ok || v != 2 {
		t.Fatalf("Lookup = %d, %v; want 2, true", v, ok)
	}

	// The old cleanup runs late and must not remove the replacement.
	cleanups.run(t, 0)
	if v, ok := r.Lookup("svc"); !ok || v != 2 {
		t.Fatalf("after old cleanup, Lookup = %d, %v; want 2, true", v, ok)
	}
	if !stored(&r, "svc") {
		t.Fatal("old cleanup removed the replacement")
	}

	// A third incarnation is refused while the second is live.
	err := r.Register(context.Background(), "svc", 3)
	var taken *TakenError[int]
	if !errors.As(err, &taken) || taken.Holder != 2 {
		t.Fatalf("Register over live entry = %v, want TakenError with holder 2", err)
	}

	cancelCur()
	cleanups.run(t, 1)
	if stored(&r, "svc") {
		t.Error("entry left in memory after its own cleanup")
	}
}

func TestReregisterWithRealAfterFunc(t *testing.T) {
	// Same scenario with the real context.AfterFunc, whose cleanup runs in
	// its own goroutine at an unknown time: the new Register must succeed
	// and stay, whichever order things happen in.
	var r Registry[int]
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		if err := r.Register(ctx, "svc", i); err != nil {
			t.Fatalf("incarnation %d: %v", i, err)
		}
		if v, ok := r.Lookup("svc"); !ok || v != i {
			t.Fatalf("incarnation %d: Lookup = %d, %v", i, v, ok)
		}
		cancel()
		if v, ok := r.Lookup("svc"); ok {
			t.Fatalf("incarnation %d: Lookup after cancel = %d", i, v)
		}
	}
	final, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Register(final, "svc", -1); err != nil {
		t.Fatal(err)
	}
	// Earlier cleanups may still be running; whatever their order, they
	// must leave the last entry alone. goleak checks that they all end.
	if v, ok := r.Lookup("svc"); !ok || v != -1 {
		t.Fatalf("Lookup = %d, %v; want -1, true", v, ok)
	}
}

func TestCleanupRunsThroughAfterFunc(t *testing.T) {
	// The real context.AfterFunc, observed: each cleanup reports when it
	// has finished.
	finished := make(chan struct{}, 8)
	afterFunc = func(ctx context.Context, f func()) func() bool {
		return context.AfterFunc(ctx, func() {
			f()
			finished <- struct{}{}
		})
	}
	t.Cleanup(func() { afterFunc = context.AfterFunc })

	var r Registry[int]
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Register(ctx, "svc", 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-finished
	if stored(&r, "svc") {
		t.Error("entry still in memory after its cleanup")
	}

	// The old entry's cleanup may run before or after its replacement
	// registers; either way it must leave the replacement alone.
	old, cancelOld := context.WithCancel(context.Background())
	if err := r.Register(old, "svc", 2); err != nil {
		t.Fatal(err)
	}
	cancelOld()
	cur, cancelCur := context.WithCancel(context.Background())
	defer cancelCur()
	if err := r.Register(cur, "svc", 3); err != nil {
		t.Fatal(err)
	}
	<-finished // the old cleanup, which must leave the new entry alone
	if v, ok := r.Lookup("svc"); !ok || v != 3 || !stored(&r, "svc") {
		t.Fatalf("after old cleanup, Lookup = %d, %v; want 3, true", v, ok)
	}
}

func TestBackgroundContextHoldsForever(t *testing.T) {
	var r Registry[int]
	if err := r.Register(context.Background(), "forever", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(context.Background(), "forever", 2); !errors.Is(err, ErrTaken) {
		t.Fatalf("second Register = %v, want ErrTaken", err)
	}
	if v, ok := r.Lookup("forever"); !ok || v != 1 {
		t.Fatalf("Lookup = %d, %v", v, ok)
	}
}

func TestNamesAndLen(t *testing.T) {
	var r Registry[int]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone, cancelGone := context.WithCancel(context.Background())
	for i, n := range []string{"zeta", "alpha", "mid", "beta"} {
		if err := r.Register(ctx, n, i); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"dead1", "dead2"} {
		if err := r.Register(gone, n, 0); err != nil {
			t.Fatal(err)
		}
	}
	cancelGone()
	want := []string{"alpha", "beta", "mid", "zeta"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if got := r.Len(); got != len(want) {
		t.Errorf("Len() = %d, want %d", got, len(want))
	}
}

func TestConcurrentRegisterOneWinner(t *testing.T) {
	var r Registry[int]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = r.Register(ctx, "leader", i) })
	}
	wg.Wait()
	winner, ok := r.Lookup("leader")
	if !ok {
		t.Fatal("no winner registered")
	}
	wins := 0
	for i, err := range errs {
		var taken *TakenError[int]
		switch {
		case err == nil:
			wins++
			if i != winner {
				t.Errorf("Register(%d) succeeded but Lookup returns %d", i, winner)
			}
		case errors.As(err, &taken):
			if taken.Holder != winner {
				t.Errorf("Register(%d): holder %d, want %d", i, taken.Holder, winner)
			}
		default:
			t.Errorf("Register(%d): unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d winners, want 1", wins)
	}
}

func TestWaitReturnsLiveValueAtOnce(t *testing.T) {
	var r Registry[string]
	if err := r.Register(context.Background(), "db", "conn-1"); err != nil {
		t.Fatal(err)
	}
	v, err := r.Wait(context.Background(), "db")
	if err != nil || v != "conn-1" {
		t.Fatalf("Wait = %q, %v", v, err)
	}
	// A held name is returned even if ctx is already done.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := r.Wait(done, "db"); err != nil || v != "conn-1" {
		t.Fatalf("Wait with done ctx on held name = %q, %v", v, err)
	}
}

func TestWaitBlocksAcrossRestart(t *testing.T) {
	blocked := setWaitHook(t)
	holdCleanups(t) // the old entry stays in memory, dead
	var r Registry[string]
	old, cancelOld := context.WithCancel(context.Background())
	if err := r.Register(old, "db", "conn-1"); err != nil {
		t.Fatal(err)
	}
	// The incarnation exits: its context is cancelled first.
	cancelOld()

	type result struct {
		v   string
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := r.Wait(context.Background(), "db")
		res <- result{v, err}
	}()
	select {
	case name := <-blocked:
		if name != "db" {
			t.Fatalf("Wait blocked on %q", name)
		}
	case got := <-res:
		t.Fatalf("Wait = %q, %v; want it to block", got.v, got.err)
	}

	// The replacement starts and registers.
	cur, cancelCur := context.WithCancel(context.Background())
	defer cancelCur()
	if err := r.Register(cur, "db", "conn-2"); err != nil {
		t.Fatal(err)
	}
	got := <-res
	if got.err != nil || got.v != "conn-2" {
		t.Fatalf("Wait = %q, %v; want conn-2, nil", got.v, got.err)
	}
	assertNoWaiters(t, &r)
}

func TestWaitSkipsEntryDeadBeforeItLooks(t *testing.T) {
	// A Register wakes the waiter, but the new entry's context is done
	// before the waiter looks: the waiter must go back to sleep and return
	// the next live value instead.
	blocked := setWaitHook(t)
	woken := make(chan struct{})
	proceed := make(chan struct{})
	testHookWaitWoken = func(string) {
		woken <- struct{}{}
		<-proceed
	}
	t.Cleanup(func() { testHookWaitWoken = nil })
	holdCleanups(t) // the dead entry stays in memory

	var r Registry[int]
	res := make(chan int, 1)
	go func() {
		v, err := r.Wait(context.Background(), "svc")
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		res <- v
	}()
	<-blocked

	short, cancelShort := context.WithCancel(context.Background())
	if err := r.Register(short, "svc", 1); err != nil {
		t.Fatal(err)
	}
	<-woken // the waiter is awake and has not looked up yet
	cancelShort()
	proceed <- struct{}{}
	select {
	case <-blocked: // it found no live entry and blocks again
	case v := <-res:
		t.Fatalf("Wait returned %d, whose context was done", v)
	}

	cur, cancelCur := context.WithCancel(context.Background())
	defer cancelCur()
	if err := r.Register(cur, "svc", 2); err != nil {
		t.Fatal(err)
	}
	<-woken
	proceed <- struct{}{}
	if v := <-res; v != 2 {
		t.Fatalf("Wait = %d, want 2", v)
	}
	assertNoWaiters(t, &r)
}

func TestWaitReturnsCtxErrorWhileBlocked(t *testing.T) {
	blocked := setWaitHook(t)
	var r Registry[int]
	ctx, cancel := context.WithCancel(context.Background())
	const waiters = 3
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			_, err := r.Wait(ctx, "never")
			errs <- err
		}()
	}
	for range waiters {
		<-blocked
	}
	r.mu.Lock()
	n := r.waiters["never"].n
	r.mu.Unlock()
	if n != waiters {
		t.Fatalf("slot counts %d waiters, want %d", n, waiters)
	}
	cancel()
	for range waiters {
		if err := <-errs; err != context.Canceled {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
	}
	assertNoWaiters(t, &r)
}

func TestWaitManyWaitersOneRegister(t *testing.T) {
	blocked := setWaitHook(t)
	var r Registry[int]
	const waiters = 8
	res := make(chan int, waiters)
	for range waiters {
		go func() {
			v, err := r.Wait(context.Background(), "svc")
			if err != nil {
				t.Errorf("Wait: %v", err)
			}
			res <- v
		}()
	}
	for range waiters {
		<-blocked
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Register(ctx, "svc", 42); err != nil {
		t.Fatal(err)
	}
	for range waiters {
		if v := <-res; v != 42 {
			t.Errorf("Wait = %d, want 42", v)
		}
	}
	assertNoWaiters(t, &r)
}

func assertNoWaiters[V any](t *testing.T, r *Registry[V]) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.waiters) != 0 {
		t.Errorf("%d wait slots left behind", len(r.waiters))
	}
}

// TestRestartStress simulates a supervisor restarting one named child many
// times while readers look the name up. The supervisor publishes, after
// each exit it has handled, the index of that incarnation in handled. As the
// incarnation's context was cancelled before the store, any Lookup that
// starts after a reader loaded handled == h must not return h or older.
// Each reader also checks that successive values never go back. A
// dependant calls Wait over and over under the same rules.
func TestRestartStress(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	const (
		readers   = 3
		waitEvery = 10 // the supervisor lets the dependant see every 10th incarnation
	)
	var (
		r       Registry[int]
		handled atomic.Int64 // last incarnation whose exit was handled; 0: none
		reads   atomic.Int64
		waits   atomic.Int64
		wg      sync.WaitGroup
	)
	stopCtx, stop := context.WithCancel(context.Background())
	defer func() {
		stop()
		wg.Wait()
		assertNoWaiters(t, &r)
	}()

	for range readers {
		wg.Go(func() {
			last := 0
			for stopCtx.Err() == nil {
				// Yield so that the supervisor keeps running on a small
				// machine; this is for throughput, not synchronisation.
				runtime.Gosched()
				h := handled.Load()
				v, ok := r.Lookup("svc")
				reads.Add(1)
				if !ok {
					continue
				}
				if int64(v) <= h {
					t.Errorf("Lookup returned %d after exit of %d was handled", v, h)
					return
				}
				if v < last {
					t.Errorf("Lookup went back from %d to %d", last, v)
					return
				}
				last = v
			}
		})
	}

	// The dependant reports each value Wait returns on seen. Most
	// incarnations live for microseconds, so without help it would rarely
	// catch one; the supervisor keeps every waitEvery-th incarnation alive
	// until the dependant has reported it.
	seen := make(chan int)
	waiterDone := make(chan struct{})
	wg.Go(func() {
		defer close(waiterDone)
		last := 0
		for {
			h := handled.Load()
			v, err := r.Wait(stopCtx, "svc")
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Wait: %v", err)
				}
				return
			}
			waits.Add(1)
			if int64(v) <= h || v < last {
				t.Errorf("Wait returned %d (last %d) after exit of %d was handled", v, last, h)
				return
			}
			last = v
			select {
			case seen <- v:
			case <-stopCtx.Done():
				return
			}
		}
	})

	// awaitSeen returns once the dependant has reported i, skipping the
	// older values it may report first.
	awaitSeen := func(i int) error {
		for {
			select {
			case v := <-seen:
				if v == i {
					return nil
				}
			case <-waiterDone:
				return fmt.Errorf("incarnation %d: the dependant stopped", i)
			}
		}
	}

	incarnation := func(i int) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan error, 1)
		exited := make(chan struct{})
		crash := i%2 == 0
		go func() { // the child's Serve
			defer close(exited)
			err := r.Register(ctx, "svc", i)
			ready <- err // child.Ready
			if err != nil || crash {
				return
			}
			<-ctx.Done()
		}()
		if err := <-ready; err != nil {
			return fmt.Errorf("incarnation %d: Register: %w", i, err)
		}
		if v, ok := r.Lookup("svc"); !ok || v != i {
			return fmt.Errorf("incarnation %d ready but Lookup = %d, %v", i, v, ok)
		}
		if i%waitEvery == 0 {
			if err := awaitSeen(i); err != nil {
				return err
			}
		}
		cancel() // always cancelled before its exit is handled
		<-exited
		// Handling the exit from here on.
		handled.Store(int64(i))
		if v, ok := r.Lookup("svc"); ok {
			return fmt.Errorf("exit of %d handled but Lookup = %d", i, v)
		}
		return nil
	}
	for i := 1; i <= n; i++ {
		if err := incarnation(i); err != nil {
			t.Error(err)
			break
		}
	}
	if !t.Failed() && (reads.Load() == 0 || waits.Load() < int64(n/waitEvery)) {
		t.Errorf("%d lookups, %d waits: readers did not run", reads.Load(), waits.Load())
	}
	t.Logf("%d incarnations, %d lookups, %d waits", n, reads.Load(), waits.Load())
}

func TestTypedValues(t *testing.T) {
	type conn struct{ id int }
	var r Registry[*conn]
	c := &conn{id: 1}
	if err := r.Register(context.Background(), "db", c); err != nil {
		t.Fatal(err)
	}
	got, ok := r.Lookup("db")
	if !ok || got != c {
		t.Fatalf("Lookup = %v, %v", got, ok)
	}
	if got, ok := r.Lookup("other"); ok || got != nil {
		t.Fatalf("Lookup(other) = %v, %v; want nil, false", got, ok)
	}
	var b Backend[*conn] = &r
	if v, ok := b.Lookup("db"); !ok || v != c {
		t.Fatal("Registry through Backend lost the value")
	}
}
