package goroutines

import (
	"context"
	"fmt"
	"maps"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
)

// A profile as runtime/pprof prints it at debug level 1 (tabs as there),
// with records for a tree under "root", a sibling that shares a prefix
// ("root/dbx", "root/db0"), one whose value sorts between "root/db" and "root/db/..."
// ("root/db-x"), and records the label key does not index.
const sample = `goroutine profile: total 13
2 @ 0x1 0x2
# labels: {"arbor_child":"root/db"}
#	0x1	pkg.(*Pool).wait+0x10	/src/pkg/pool.go:10
#	0x2	pkg.(*Pool).Serve+0x20	/src/pkg/pool.go:20

1 @ 0x3
#	0x3	runtime.main+0x30	/src/runtime/proc.go:1

1 @ 0x4
# labels: {"arbor_child":"root/db/pool", "conn":"7"}
#	0x4	pkg.dial+0x40	/src/pkg/dial.go:4

1 @ 0x5
# labels: {"arbor_child":"root/dbx"}
#	0x5	pkg.other+0x50	/src/pkg/other.go:5

1 @ 0x6
# labels: {"arbor_child":"root/db-x"}
#	0x6	pkg.dash+0x60	/src/pkg/dash.go:6

1 @ 0x7
# labels: {"arbor_child":"root"}
#	0x7	supervisor.loop+0x70	/src/supervisor/run.go:7

1 @ 0x8
# labels: {"arbor_child":"root/db"}
#	0x8	pkg.(*Pool).reap+0x80	/src/pkg/pool.go:80

1 @ 0x9
# labels: {"a":"\"arbor_child\":\"root/db\"", "xarbor_child":"root/db"}
#	0x9	pkg.decoy+0x90	/src/pkg/decoy.go:9

1 @ 0xa
# labels: {"a":"x", "arbor_child":"root/db/cache\u00e9\"q"}
#	0xa	pkg.cache+0xa0	/src/pkg/cache.go:10

1 @ 0xb
# labels: {"arbor_child":"root/db/pool
#	0xb	pkg.broken+0xb0	/src/pkg/broken.go:11

1 @ 0xc
# labels: {"arbor_child":"other/db"}
#	0xc	pkg.elsewhere+0xc0	/src/pkg/elsewhere.go:12

1 @ 0xd
# labels: {"arbor_child":"root/db0"}
#	0xd	pkg.zero+0xd0	/src/pkg/zero.go:13
`

// The records of sample, trimmed, by their first address.
const (
	recDB = `2 @ 0x1 0x2
# labels: {"arbor_child":"root/db"}
#	0x1	pkg.(*Pool).wait+0x10	/src/pkg/pool.go:10
#	0x2	pkg.(*Pool).Serve+0x20	/src/pkg/pool.go:20`
	recPool = `1 @ 0x4
# labels: {"arbor_child":"root/db/pool", "conn":"7"}
#	0x4	pkg.dial+0x40	/src/pkg/dial.go:4`
	recDBX = `1 @ 0x5
# labels: {"arbor_child":"root/dbx"}
#	0x5	pkg.other+0x50	/src/pkg/other.go:5`
	recDash = `1 @ 0x6
# labels: {"arbor_child":"root/db-x"}
#	0x6	pkg.dash+0x60	/src/pkg/dash.go:6`
	recRoot = `1 @ 0x7
# labels: {"arbor_child":"root"}
#	0x7	supervisor.loop+0x70	/src/supervisor/run.go:7`
	recReap = `1 @ 0x8
# labels: {"arbor_child":"root/db"}
#	0x8	pkg.(*Pool).reap+0x80	/src/pkg/pool.go:80`
	recCache = `1 @ 0xa
# labels: {"a":"x", "arbor_child":"root/db/cache\u00e9\"q"}
#	0xa	pkg.cache+0xa0	/src/pkg/cache.go:10`
	recOther = `1 @ 0xc
# labels: {"arbor_child":"other/db"}
#	0xc	pkg.elsewhere+0xc0	/src/pkg/elsewhere.go:12`
	recZero = `1 @ 0xd
# labels: {"arbor_child":"root/db0"}
#	0xd	pkg.zero+0xd0	/src/pkg/zero.go:13`
)

// stacks joins records as Stacks returns them.
func stacks(recs ...string) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r + "\n\n")
	}
	return b.String()
}

func TestStacks(t *testing.T) {
	p := parse(sample, "arbor_child")
	for _, tc := range []struct {
		path, want string
	}{
		// The path's own records first, in profile order, then those below
		// it by label value; never a sibling sharing the prefix.
		{"root/db", stacks(recDB, recReap, recCache, recPool)},
		{"root/db/pool", stacks(recPool)},
		{"root/dbx", stacks(recDBX)},
		{"root/db-x", stacks(recDash)},
		{"root/db0", stacks(recZero)},
		{"root", stacks(recRoot, recDB, recReap, recDash, recCache, recPool, recZero, recDBX)},
		{"other", stacks(recOther)},
		{"root/db/cacheé\"q", stacks(recCache)},
		{"root/d", ""},
		{"root/db/", ""},
		{"ro", ""},
		{"nothing", ""},
	} {
		if got := p.Stacks(tc.path); got != tc.want {
			t.Errorf("Stacks(%q) =\n%s\nwant\n%s", tc.path, got, tc.want)
		}
	}
}

func TestUnder(t *testing.T) {
	p := parse(sample, "arbor_child")
	for _, tc := range []struct {
		root string
		want map[string]Group
	}{
		{"root/db", map[string]Group{
			"root/db":           {Count: 3, Stacks: stacks(recDB, recReap)},
			"root/db/pool":      {Count: 1, Stacks: stacks(recPool)},
			"root/db/cacheé\"q": {Count: 1, Stacks: stacks(recCache)},
		}},
		{"root/db/pool", map[string]Group{"root/db/pool": {Count: 1, Stacks: stacks(recPool)}}},
		{"root", map[string]Group{
			"root":              {Count: 1, Stacks: stacks(recRoot)},
			"root/db":           {Count: 3, Stacks: stacks(recDB, recReap)},
			"root/db/pool":      {Count: 1, Stacks: stacks(recPool)},
			"root/db/cacheé\"q": {Count: 1, Stacks: stacks(recCache)},
			"root/dbx":          {Count: 1, Stacks: stacks(recDBX)},
			"root/db-x":         {Count: 1, Stacks: stacks(recDash)},
			"root/db0":          {Count: 1, Stacks: stacks(recZero)},
		}},
		{"root/d", map[string]Group{}},
		{"nothing", map[string]Group{}},
	} {
		if got := p.Under(tc.root); !maps.Equal(got, tc.want) {
			t.Errorf("Under(%q) = %v, want %v", tc.root, got, tc.want)
		}
	}
}

// The records of one label value keep their profile order (by count, as the
// profile sorts them), however many records there are.
func TestProfileOrder(t *testing.T) {
	var text, want strings.Builder
	text.WriteString("goroutine profile: total 200\n")
	for i := range 100 {
		for _, v := range []string{"root/b", "root/a"} {
			rec := fmt.Sprintf("1 @ 0x%x\n# labels: {\"arbor_child\":%q}\n#\t0x%[1]x\tpkg.f%[1]d+0x1\t/src/pkg/f.go:%[1]d", i, v)
			text.WriteString(rec + "\n\n")
			if v == "root/a" {
				want.WriteString(rec + "\n\n")
			}
		}
	}
	p := parse(text.String(), "arbor_child")
	if got := p.Stacks("root/a"); got != want.String() {
		t.Errorf("Stacks(root/a) =\n%s\nwant\n%s", got, want.String())
	}
	if got := p.Under("root/a")["root/a"]; got.Stacks != want.String() || got.Count != 100 {
		t.Errorf("Under(root/a) = %d goroutines\n%s\nwant 100\n%s", got.Count, got.Stacks, want.String())
	}
}

// Another key splits the same profile by its own values.
func TestOtherKey(t *testing.T) {
	p := parse(sample, "conn")
	if got, want := p.Stacks("7"), stacks(recPool); got != want {
		t.Errorf(`Stacks("7") = %q, want %q`, got, want)
	}
	if got := parse(sample, "absent").Stacks(""); got != "" {
		t.Errorf("a key no record has: Stacks = %q", got)
	}
}

func TestLabelValue(t *testing.T) {
	const head = "1 @ 0x1\n# labels: "
	for _, tc := range []struct {
		rec, value string
		ok         bool
	}{
		{head + `{"arbor_child":"root/db"}`, "root/db", true},
		{head + `{"a":"1", "arbor_child":"root/db", "z":"2"}` + "\n#\t0x1\tf+0x1\t/f.go:1", "root/db", true},
		{head + `{"arbor_child":""}`, "", true},
		{head + `{"arbor_child":"a\"b\\c\n"}`, "a\"b\\c\n", true},
		{head + `{"xarbor_child":"root/db"}`, "", false},
		{head + `{"a":"\"arbor_child\":\"root/db\""}`, "", false},
		{head + `{}`, "", false},
		{head + `{"arbor_child":"root/db`, "", false},
		{head + `{"arbor_child" "root/db"}`, "", false},
		{head + `{"a":"1" "arbor_child":"root/db"}`, "", false},
		{"1 @ 0x1\n#\t0x1\tf+0x1\t/f.go:1", "", false},
		{`# labels: {"arbor_child":"root/db"}`, "", false}, // not a record's line
	} {
		v, ok := labelValue(tc.rec, "arbor_child")
		if v != tc.value || ok != tc.ok {
			t.Errorf("labelValue(%q) = %q, %v; want %q, %v", tc.rec, v, ok, tc.value, tc.ok)
		}
	}
}

func TestRecordCount(t *testing.T) {
	for rec, want := range map[string]int{
		"1 @ 0x1":       1,
		"250 @ 0x1 0x2": 250,
		"@ 0x1":         0,
		"":              0,
	} {
		if got := recordCount(rec); got != want {
			t.Errorf("recordCount(%q) = %d, want %d", rec, got, want)
		}
	}
}

// The header, the first record and a profile without records.
func TestParseEdges(t *testing.T) {
	first := "goroutine profile: total 1\n" + recRoot + "\n"
	if got := parse(first, "arbor_child").Stacks("root"); got != stacks(recRoot) {
		t.Errorf("first record: Stacks = %q", got)
	}
	for _, text := range []string{"", "goroutine profile: total 0\n", "\n\n\n"} {
		p := parse(text, "arbor_child")
		if got := p.Stacks(""); got != "" {
			t.Errorf("parse(%q).Stacks = %q", text, got)
		}
		if got := p.Under(""); len(got) != 0 {
			t.Errorf("parse(%q).Under = %v", text, got)
		}
	}
}

// labelledKey is the key Take's tests label their goroutines with, so that
// no other goroutine of the test binary carries it.
const labelledKey = "goroutines_test"

// parking is a set of goroutines a test parks, labelled, until it releases
// them.
type parking struct {
	release chan struct{}
	in      sync.WaitGroup // done as each goroutine is in parked
	wg      sync.WaitGroup // done as each goroutine ends
}

func newParking() *parking { return &parking{release: make(chan struct{})} }

// park starts n goroutines labelled value (with pprof.Do, or with
// pprof.SetGoroutineLabels as the supervisor labels a child), each blocked
// in parked until released, and waits until they are all in parked.
func (pk *parking) park(value string, n int, setLabels bool) {
	for range n {
		pk.in.Add(1)
		pk.wg.Add(1)
		if setLabels {
			ctx := pprof.WithLabels(context.Background(), pprof.Labels(labelledKey, value))
			// Ends when released.
			go func() {
				defer pk.wg.Done()
				pprof.SetGoroutineLabels(ctx)
				pk.parked()
			}()
			continue
		}
		pprof.Do(context.Background(), pprof.Labels(labelledKey, value), func(context.Context) {
			// Inherits the labels; ends when released.
			go func() {
				defer pk.wg.Done()
				pk.parked()
			}()
		})
	}
	pk.in.Wait()
}

//go:noinline
func (pk *parking) parked() {
	pk.in.Done()
	<-pk.release
}

// free releases every parked goroutine and waits until they have ended.
func (pk *parking) free() {
	close(pk.release)
	pk.wg.Wait()
}

func TestTake(t *testing.T) {
	pk := newParking()
	defer pk.free()
	pk.park("t/a", 3, false)
	pk.park("t/a/b", 2, true)
	pk.park("t/ab", 1, false)

	p := Take(labelledKey)
	under := p.Under("t")
	counts := make(map[string]int)
	for v, g := range under {
		counts[v] = g.Count
		if !strings.Contains(g.Stacks, "goroutines.(*parking).parked") || !strings.Contains(g.Stacks, fmt.Sprintf("%q:%q", labelledKey, v)) {
			t.Errorf("Under(t)[%q].Stacks lack the parked frame or the label:\n%s", v, g.Stacks)
		}
	}
	if want := map[string]int{"t/a": 3, "t/a/b": 2, "t/ab": 1}; !maps.Equal(counts, want) {
		t.Errorf("Under(t) counts = %v, want %v", counts, want)
	}
	s := p.Stacks("t/a")
	if want := under["t/a"].Stacks + under["t/a/b"].Stacks; s != want {
		t.Errorf("Stacks(t/a) =\n%s\nwant t/a's then t/a/b's:\n%s", s, want)
	}
	if strings.Contains(s, `"t/ab"`) || strings.Contains(s, "goroutine profile:") {
		t.Errorf("Stacks(t/a) holds more than t/a's goroutines:\n%s", s)
	}
	if s := p.Stacks("t/none"); s != "" {
		t.Errorf("Stacks(t/none) = %q", s)
	}
}

// syntheticProfile returns a profile of n records, each with a label value
// of its own under "root/".
func syntheticProfile(n int) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("goroutine profile: total %d\n", n))
	for i := range n {
		fmt.Fprintf(&b, "1 @ 0x1 0x2\n# labels: {%q:\"root/w%d\"}\n#\t0x1\tpkg.wait+0x10\t/src/pkg/w.go:10\n#\t0x2\tpkg.serve+0x20\t/src/pkg/w.go:20\n\n", "arbor_child", i)
	}
	return b.String()
}

// BenchmarkStacks: one Stacks call on a profile of 10,000 label values.
func BenchmarkStacks(b *testing.B) {
	p := parse(syntheticProfile(10_000), "arbor_child")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if p.Stacks(fmt.Sprintf("root/w%d", i%10_000)) == "" {
			b.Fatal("no stacks")
		}
	}
}

// BenchmarkTakeStacks: Take with 10,000 labelled goroutines parked, then
// one Stacks call, what a supervisor does to report an abandoned child.
func BenchmarkTakeStacks(b *testing.B) {
	const n = 10_000
	pk := newParking()
	for i := range n {
		pk.park(fmt.Sprintf("root/w%d", i), 1, true)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if Take(labelledKey).Stacks(fmt.Sprintf("root/w%d", i%n)) == "" {
			b.Fatal("no stacks")
		}
	}
	b.StopTimer()
	pk.free()
}

// Take's where labels keep only the records that carry them all; Exact
// finds one value and no other.
func TestWhereAndExact(t *testing.T) {
	p := parse(sample, "arbor_child", Label{Key: "conn", Value: "7"})
	if g := p.Exact("root/db/pool"); g.Count != 1 || !strings.Contains(g.Stacks, "pkg.dial") {
		t.Fatalf("Exact(root/db/pool) with conn=7 = %+v", g)
	}
	if g := p.Exact("root/db"); g.Count != 0 {
		t.Fatalf("Exact(root/db) with conn=7 = %+v, want none: those records lack the label", g)
	}
	all := parse(sample, "arbor_child")
	if g := all.Exact("root/db"); g.Count != 3 || strings.Contains(g.Stacks, "pkg.dial") {
		t.Fatalf("Exact(root/db) = %+v, want its two records (3 goroutines), none below it", g)
	}
}
