package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arborgo/arbor/child"
)

var errBoom = errors.New("bench: boom")

// probe is the child of the restart figures. The same value runs as an arbor
// child, a suture service and the floor's function. Each incarnation takes a
// timestamp as its Serve is entered and, when it fails, just before it returns
// its error (or panics); the difference is one restart latency.
//
// Incarnations run one after another, and each hand-off from one to the next
// goes through the supervisor's channels, so the fields need no lock.
type probe struct {
	panics  bool
	trigger chan struct{} // the driver tells the waiting incarnation to fail
	entered chan struct{} // a waiting incarnation tells the driver it is running
	retAt   int64         // when the last incarnation failed; 0 if none pending
	lat     []int64       // restart latencies, ns, in order
	quick   int           // the next `quick` incarnations fail at once (back to back)
}

func newProbe(panics bool, capacity int) *probe {
	return &probe{panics: panics, trigger: make(chan struct{}), entered: make(chan struct{}), lat: make([]int64, 0, capacity)}
}

// String names the service for suture, which would otherwise format the
// value with %#v on every Add.
func (p *probe) String() string { return "probe" }

func (p *probe) Serve(ctx context.Context) error {
	t := nowNS()
	if p.retAt != 0 {
		p.lat = append(p.lat, t-p.retAt)
		p.retAt = 0
	}
	if p.quick > 0 {
		p.quick--
		return p.fail()
	}
	select {
	case p.entered <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	select {
	case <-p.trigger:
	case <-ctx.Done():
		return nil
	}
	return p.fail()
}

func (p *probe) fail() error {
	p.retAt = nowNS()
	if p.panics {
		panic(errBoom)
	}
	return errBoom
}

// isolated triggers n restarts one at a time, each after the previous
// incarnation has reported it is running, and returns their latencies.
func (p *probe) isolated(n int) []int64 {
	from := len(p.lat)
	for range n {
		p.trigger <- struct{}{}
		<-p.entered
	}
	return p.lat[from:]
}

// backToBack makes n restarts in a row, each incarnation failing as soon as it
// is entered, and returns their latencies.
func (p *probe) backToBack(n int) []int64 {
	from := len(p.lat)
	p.quick = n - 1
	p.trigger <- struct{}{}
	<-p.entered
	return p.lat[from:]
}

// superviseProbe runs p under the given variant until stop is called; it
// returns once p's first incarnation is running.
func superviseProbe(variant string, p *probe) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	switch variant {
	case "arbor":
		s := newArbor([]child.Spec{{ID: "probe", Service: p}})
		if err := s.Start(ctx); err != nil {
			panic(err)
		}
		<-p.entered
		return func() error {
			defer cancel()
			cs, err := s.Children(context.Background())
			if err != nil {
				return err
			}
			if got, want := cs[0].Restarts, len(p.lat); got != want {
				return fmt.Errorf("arbor counted %d restarts, probe %d", got, want)
			}
			return s.Stop(context.Background())
		}
	case "suture":
		s, h := newSuture()
		s.Add(p)
		errC := s.ServeBackground(ctx)
		<-p.entered
		return func() error {
			cancel()
			<-errC
			if err := h.check(); err != nil {
				return err
			}
			if got, want := h.restarts.Load(), int64(len(p.lat)); got != want {
				return fmt.Errorf("suture hook saw %d restarts, probe %d", got, want)
			}
			return nil
		}
	case "floor-ctx":
		done := make(chan struct{})
		go func() { floorCtxSupervise(ctx, p.Serve); close(done) }()
		<-p.entered
		return func() error { cancel(); <-done; return nil }
	case "floor":
		done := make(chan struct{})
		go func() { floorSupervise(ctx, p.Serve, p.panics); close(done) }()
		<-p.entered
		return func() error { cancel(); <-done; return nil }
	}
	panic("unknown variant " + variant)
}

// figRestart measures isolated restarts: figure 1 (error) and 2 (panic).
func figRestart(panics bool) func(cfg config, variant string) (map[string]float64, error) {
	return func(cfg config, variant string) (map[string]float64, error) {
		warm, n := 5000, 50000
		if cfg.quick {
			warm, n = 1000, 10000
		}
		p := newProbe(panics, warm+n)
		stop := superviseProbe(variant, p)
		p.isolated(warm)
		var am allocMeter
		am.begin()
		lat := p.isolated(n)
		allocs, bytes := am.end(n)
		if err := stop(); err != nil {
			return nil, err
		}
		return map[string]float64{
			"p50_us":    us(percentile(lat, 50)),
			"p99_us":    us(percentile(lat, 99)),
			"allocs_op": allocs,
			"bytes_op":  bytes,
		}, nil
	}
}

// figBackToBack is figure 3: on one supervisor, isolated restarts, then
// 10,000 back to back, all inside one intensity window.
func figBackToBack(cfg config, variant string) (map[string]float64, error) {
	warm, iso, n := 1000, 5000, 10000
	if cfg.quick {
		warm, iso = 500, 2000
	}
	p := newProbe(false, warm+iso+n)
	stop := superviseProbe(variant, p)
	p.isolated(warm)
	isoLat := p.isolated(iso)
	t0 := time.Now()
	lat := p.backToBack(n)
	total := time.Since(t0)
	if err := stop(); err != nil {
		return nil, err
	}
	if len(lat) != n {
		return nil, fmt.Errorf("got %d back-to-back latencies, want %d", len(lat), n)
	}
	k := n / 10
	return map[string]float64{
		"iso_p50_us":     us(percentile(isoLat, 50)),
		"b2b_p50_us":     us(percentile(lat, 50)),
		"b2b_p99_us":     us(percentile(lat, 99)),
		"first_p50_us":   us(percentile(lat[:k], 50)),
		"last_p50_us":    us(percentile(lat[n-k:], 50)),
		"b2b_total_ms":   float64(total) / 1e6,
		"b2b_per_iso":    percentile(lat, 50) / percentile(isoLat, 50),
		"last_per_first": percentile(lat[n-k:], 50) / percentile(lat[:k], 50),
	}, nil
}
