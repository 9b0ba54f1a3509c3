// Package goroutines reads the goroutine profile by pprof label: which
// goroutines carry a label value, and their stacks. The supervisor labels
// every child goroutine with the child's path, so one profile, split by that
// label, tells what each child of a tree still runs.
package goroutines

import (
	"bytes"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
)

// Profile is one goroutine profile (debug=1) split by the value of a pprof
// label. It is immutable, and safe for concurrent use.
type Profile struct {
	// recs are the records that carry the label, sorted by its value (in
	// profile order for one value); values[i] is recs[i]'s value.
	values []string
	recs   []record
}

// record is one record of a debug=1 goroutine profile: count goroutines with
// the same stack and labels.
type record struct {
	count int
	text  string // trimmed of surrounding space
}

// Group is what a profile shows for one label value.
type Group struct {
	// Count is the number of goroutines.
	Count int
	// Stacks are their records, as the profile prints them at debug level
	// 1, each followed by a blank line.
	Stacks string
}

// Label is a pprof label, key and value, that records must carry (see Take).
type Label struct{ Key, Value string }

// Take takes one goroutine profile now and indexes its records by the value
// of label key. Records without that label, or without every label of
// where, are left out.
func Take(key string, where ...Label) *Profile {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return &Profile{}
	}
	return parse(buf.String(), key, where...)
}

// TakeJoined takes one goroutine profile now and indexes the records that
// carry every label of keys by their values joined with NUL, in the order of
// keys: with keys tree and path, Stacks(tree+"\x00"+path) finds one tree's
// path and the paths below it.
func TakeJoined(keys ...string) *Profile {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return &Profile{}
	}
	return parseJoined(buf.String(), keys)
}

// parseJoined is parse for TakeJoined.
func parseJoined(text string, keys []string) *Profile {
	return parseBy(text, func(rec string) (string, bool) {
		vals := make([]string, len(keys))
		for i, k := range keys {
			v, ok := labelValue(rec, k)
			if !ok {
				return "", false
			}
			vals[i] = v
		}
		return strings.Join(vals, "\x00"), true
	})
}

// parse indexes the records of text, a goroutine profile at debug level 1,
// by the value of label key, keeping those that carry every label of where.
func parse(text, key string, where ...Label) *Profile {
	return parseBy(text, func(rec string) (string, bool) {
		v, ok := labelValue(rec, key)
		if !ok || !carries(rec, where) {
			return "", false
		}
		return v, true
	})
}

// parseBy indexes the records of text by the value index gives each, and
// leaves out those it gives none.
func parseBy(text string, index func(rec string) (string, bool)) *Profile {
	// The header shares the first record's paragraph.
	if rest, ok := strings.CutPrefix(text, "goroutine profile:"); ok {
		_, text, _ = strings.Cut(rest, "\n")
	}
	type labelled struct {
		value string
		rec   record
	}
	var all []labelled
	for text != "" {
		var rec string
		rec, text, _ = strings.Cut(text, "\n\n")
		rec = strings.TrimSpace(rec)
		v, ok := index(rec)
		if !ok {
			continue
		}
		all = append(all, labelled{v, record{count: recordCount(rec), text: rec}})
	}
	slices.SortStableFunc(all, func(a, b labelled) int { return strings.Compare(a.value, b.value) })
	p := &Profile{values: make([]string, len(all)), recs: make([]record, len(all))}
	for i, l := range all {
		p.values[i], p.recs[i] = l.value, l.rec
	}
	return p
}

// carries reports whether rec carries every label of where.
func carries(rec string, where []Label) bool {
	for _, l := range where {
		if v, ok := labelValue(rec, l.Key); !ok || v != l.Value {
			return false
		}
	}
	return true
}

// Exact returns the goroutines whose label is exactly value.
func (p *Profile) Exact(value string) Group {
	exact, _ := p.span(value)
	return group(p.recs[exact[0]:exact[1]])
}

// group sums recs' goroutines and joins their stacks, each followed by a
// blank line.
func group(recs []record) Group {
	var g Group
	var b strings.Builder
	for _, rec := range recs {
		g.Count += rec.count
		b.WriteString(rec.text)
		b.WriteString("\n\n")
	}
	g.Stacks = b.String()
	return g
}

// recordCount returns N from a record's first line, "N @ 0x...": the number
// of goroutines that share it.
func recordCount(rec string) int {
	n, _, _ := strings.Cut(rec, " ")
	c, err := strconv.Atoi(n)
	if err != nil {
		return 0
	}
	return c
}

// labelValue returns the value of label key in one record, which carries its
// labels on a line such as `# labels: {"arbor_child":"root/db", "k":"v"}`,
// each key and value quoted as by strconv.Quote.
func labelValue(rec, key string) (string, bool) {
	const prefix = "\n# labels: {"
	i := strings.Index(rec, prefix)
	if i < 0 {
		return "", false
	}
	line := rec[i+len(prefix):]
	for {
		k, rest, ok := unquotePrefix(line)
		if !ok {
			return "", false
		}
		rest, ok = strings.CutPrefix(rest, ":")
		if !ok {
			return "", false
		}
		v, rest, ok := unquotePrefix(rest)
		if !ok {
			return "", false
		}
		if k == key {
			return v, true
		}
		if line, ok = strings.CutPrefix(rest, ", "); !ok {
			return "", false // "}": the last label
		}
	}
}

// unquotePrefix unquotes the quoted string s starts with and returns it and
// what follows it.
func unquotePrefix(s string) (string, string, bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", false
	}
	v, err := strconv.Unquote(q)
	return v, s[len(q):], err == nil
}

// span returns the range of p.recs labelled path, then the range labelled a
// path below it (path+"/..."). Each costs two binary searches.
func (p *Profile) span(path string) (exact, below [2]int) {
	lower := func(s string) int {
		i, _ := slices.BinarySearch(p.values, s)
		return i
	}
	// path+"\x00" is the string right after path; path+"0" the first after
	// every path+"/...", '0' being '/'+1.
	exact = [2]int{lower(path), lower(path + "\x00")}
	below = [2]int{lower(path + "/"), lower(path + "0")}
	return exact, below
}

// Stacks returns the records labelled path or a path below it
// (path+"/..."), but not a sibling that merely shares the prefix
// (path+"x"): trimmed, each followed by a blank line, those of path first,
// then by label value. It returns "" if there are none. A call costs a few
// binary searches and the length of its result, however many records the
// profile holds.
func (p *Profile) Stacks(path string) string {
	exact, below := p.span(path)
	var b strings.Builder
	for _, r := range [][2]int{exact, below} {
		for _, rec := range p.recs[r[0]:r[1]] {
			b.WriteString(rec.text)
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// Under returns, by label value, the goroutine count and stacks of the
// records labelled root or a path below it (root+"/..."). The map is empty if
// there are none.
func (p *Profile) Under(root string) map[string]Group {
	out := make(map[string]Group)
	exact, below := p.span(root)
	for _, r := range [][2]int{exact, below} {
		for i := r[0]; i < r[1]; {
			j := i + 1
			for j < r[1] && p.values[j] == p.values[i] {
				j++
			}
			out[p.values[i]] = group(p.recs[i:j])
			i = j
		}
	}
	return out
}
