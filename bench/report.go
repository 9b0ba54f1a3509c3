package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// row is one line of a table: a metric of one figure for three variants.
type row struct {
	label  string
	fig    string
	metric string
	cols   [3]string // variants shown in the arbor, peer and floor columns; "" for none
	format string    // fmt verb for the values
}

var mainRows = []row{
	{"1 restart after error, p50 (µs)", "restart-error", "p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"1 restart after error, p99 (µs)", "restart-error", "p99_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"1 allocations per restart", "restart-error", "allocs_op", [3]string{"arbor", "suture", "floor"}, "%.1f"},
	{"1 bytes allocated per restart", "restart-error", "bytes_op", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"2 restart after panic, p50 (µs)", "restart-panic", "p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"2 restart after panic, p99 (µs)", "restart-panic", "p99_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"2 allocations per panic restart", "restart-panic", "allocs_op", [3]string{"arbor", "suture", "floor"}, "%.1f"},
	{"2 bytes allocated per panic restart", "restart-panic", "bytes_op", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"3 isolated restart, same supervisor, p50 (µs)", "back-to-back", "iso_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 10,000 back to back, p50 (µs)", "back-to-back", "b2b_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 10,000 back to back, p99 (µs)", "back-to-back", "b2b_p99_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 back to back: first 1,000, p50 (µs)", "back-to-back", "first_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 back to back: last 1,000, p50 (µs)", "back-to-back", "last_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 back-to-back p50 / isolated p50", "back-to-back", "b2b_per_iso", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"3 last-1,000 p50 / first-1,000 p50", "back-to-back", "last_per_first", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"4 ordered start + ready, per child, 10k (µs)", "ordered-10k", "start_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"4 reverse ordered stop, per child, 10k (µs)", "ordered-10k", "stop_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"4 ordered start + ready, per child, 100k (µs)", "ordered-100k", "start_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"4 reverse ordered stop, per child, 100k (µs)", "ordered-100k", "stop_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"4 allocations per child started, 10k", "ordered-10k", "allocs_child", [3]string{"arbor", "suture", "floor"}, "%.1f"},
	{"5 memory per idle child (B), floor with handshakes", "memory", "bytes_child", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"5 memory per idle child (B), bare-goroutine floor", "memory", "bytes_child", [3]string{"arbor", "suture", "floor-bare"}, "%.0f"},
	{"5 of which heap (B)", "memory", "heap_child", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"5 of which goroutine stacks (B)", "memory", "stack_child", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"5 goroutines per idle child", "memory", "goroutines_child", [3]string{"arbor", "suture", "floor"}, "%.4f"},
	{"6 dynamic add, per call, p50 (µs)", "dynamic", "add_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"6 dynamic remove-and-wait, per call, p50 (µs)", "dynamic", "remove_p50_us", [3]string{"arbor", "suture", "floor"}, "%.2f"},
	{"6 add + remove pairs per second", "dynamic", "pairs_per_s", [3]string{"arbor", "suture", "floor"}, "%.0f"},
	{"6 allocations per add + remove", "dynamic", "allocs_pair", [3]string{"arbor", "suture", "floor"}, "%.1f"},
}

var lookupRows = []row{
	{"7 lookup, 1 goroutine (ns)", "lookup", "serial_ns", [3]string{"arbor", "rwmutex", "syncmap"}, "%.1f"},
	{"7 lookup, GOMAXPROCS goroutines, per goroutine (ns)", "lookup", "parallel_g_ns", [3]string{"arbor", "rwmutex", "syncmap"}, "%.1f"},
	{"7 lookup, GOMAXPROCS goroutines, wall per lookup (ns)", "lookup", "parallel_ns", [3]string{"arbor", "rwmutex", "syncmap"}, "%.1f"},
	{"7 per-goroutine cost in parallel / alone", "lookup", "slowdown", [3]string{"arbor", "rwmutex", "syncmap"}, "%.2f"},
}

func fmtVal(format string, v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func (r results) has(fig string) bool { return r[fig] != nil }

func renderTable(b *strings.Builder, res results, head [3]string, rows []row) {
	fmt.Fprintf(b, "| Figure | %s | %s | %s | arbor/%s | arbor/%s |\n", head[0], head[1], head[2], head[2], head[1])
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, rw := range rows {
		if !res.has(rw.fig) {
			continue
		}
		var v [3]float64
		for i, c := range rw.cols {
			v[i] = res.median(rw.fig, c, rw.metric)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", rw.label,
			fmtVal(rw.format, v[0]), fmtVal(rw.format, v[1]), fmtVal(rw.format, v[2]),
			ratio(v[0], v[2]), ratio(v[0], v[1]))
	}
}

// check is one target of docs/performance.md evaluated on this run.
type check struct {
	figure, target, measured string
	met                      bool
}

func checks(res results) []check {
	m := res.median
	var cs []check
	if res.has("restart-error") {
		a, s, f := m("restart-error", "arbor", "p50_us"), m("restart-error", "suture", "p50_us"), m("restart-error", "floor", "p50_us")
		cs = append(cs, check{"Restart after error, p50", "≤ 1.3x floor; below suture",
			fmt.Sprintf("%.2fx floor, %.2fx suture", a/f, a/s), a <= 1.3*f && a < s})
	}
	if res.has("restart-panic") {
		a, s, f := m("restart-panic", "arbor", "p50_us"), m("restart-panic", "suture", "p50_us"), m("restart-panic", "floor", "p50_us")
		cs = append(cs, check{"Restart after panic, p50", "≤ 1.5x floor; ≤ 0.4x suture",
			fmt.Sprintf("%.2fx floor, %.2fx suture", a/f, a/s), a <= 1.5*f && a <= 0.4*s})
	}
	if res.has("back-to-back") {
		b2b, iso := m("back-to-back", "arbor", "b2b_p50_us"), m("back-to-back", "arbor", "iso_p50_us")
		lf := m("back-to-back", "arbor", "last_per_first")
		cs = append(cs, check{"10,000 back-to-back restarts, p50", "≤ 1.2x an isolated restart",
			fmt.Sprintf("%.2fx isolated (last 1,000 / first 1,000: %.2fx)", b2b/iso, lf), b2b <= 1.2*iso})
	}
	for _, n := range []string{"10k", "100k"} {
		fig := "ordered-" + n
		if !res.has(fig) {
			continue
		}
		a, f := m(fig, "arbor", "start_us"), m(fig, "floor", "start_us")
		cs = append(cs, check{"Ordered start with readiness, per child, " + n, "≤ 1.3x floor",
			fmt.Sprintf("%.2fx floor", a/f), a <= 1.3*f})
	}
	for _, n := range []string{"10k", "100k"} {
		fig := "ordered-" + n
		if !res.has(fig) {
			continue
		}
		a, f := m(fig, "arbor", "stop_us"), m(fig, "floor", "stop_us")
		cs = append(cs, check{"Reverse ordered stop, per child, " + n, "≤ 1.5x floor",
			fmt.Sprintf("%.2fx floor", a/f), a <= 1.5*f})
	}
	if res.has("memory") {
		a, f := m("memory", "arbor", "bytes_child"), m("memory", "floor", "bytes_child")
		g := m("memory", "arbor", "goroutines_child")
		cs = append(cs, check{"Memory per idle child", "≤ 1.1x floor with handshakes; 1 goroutine per child",
			fmt.Sprintf("%.2fx floor, %.4f goroutines per child", a/f, g), a <= 1.1*f && g < 1.01})
	}
	if res.has("dynamic") {
		a, s := m("dynamic", "arbor", "pairs_per_s"), m("dynamic", "suture", "pairs_per_s")
		cs = append(cs, check{"Dynamic start/stop throughput", "≥ 2x suture",
			fmt.Sprintf("%.2fx suture", a/s), a >= 2*s})
	}
	if res.has("lookup") {
		sr, pg := m("lookup", "arbor", "serial_ns"), m("lookup", "arbor", "parallel_g_ns")
		sa, ss := m("lookup", "arbor", "slowdown"), m("lookup", "syncmap", "slowdown")
		cs = append(cs, check{"Registry lookup",
			"tens of ns; readers do not contend: in parallel, each reader slows down no more than 1.25x as much as with the lock-free sync.Map floor",
			fmt.Sprintf("%.1f ns alone, %.1f ns per reader in parallel: slowdown %.2fx vs sync.Map's %.2fx", sr, pg, sa, ss),
			sr < 100 && sa <= 1.25*ss})
	}
	return cs
}

func render(res results, reps int, cfg config, took time.Duration) string {
	var b strings.Builder
	mode := "full"
	if cfg.quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, "arbor benchmarks (%s run, median of %d fresh process(es) per figure and variant)\n", mode, reps)
	fmt.Fprintf(&b, "machine: %s\n", machine())
	fmt.Fprintf(&b, "date: %s\n\n", time.Now().Format("2006-01-02 15:04"))
	renderTable(&b, res, [3]string{"arbor", "suture", "floor"}, mainRows)
	if res.has("lookup") {
		b.WriteString("\n")
		renderTable(&b, res, [3]string{"arbor registry", "RWMutex map", "sync.Map"}, lookupRows)
	}
	b.WriteString("\n| Target (docs/performance.md) | Wanted | Measured | Met |\n|---|---|---|---|\n")
	for _, c := range checks(res) {
		met := "met"
		if !c.met {
			met = "NOT MET"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.figure, c.target, c.measured, met)
	}
	fmt.Fprintf(&b, "\ntotal time: %s\n", took.Round(100*time.Millisecond))
	return b.String()
}
