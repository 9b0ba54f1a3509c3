package treeview_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
	"github.com/arborgo/arbor/treeview"
)

// fuzzTree builds a supervisor.Tree from fuzz input: any shape, any enum
// value (valid or not), any names, exits of every kind.
func fuzzTree(data []byte, names string, now int64) *supervisor.Tree {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	at := time.Unix(0, now).UTC()
	var build func(path string, depth int) *supervisor.Tree
	build = func(path string, depth int) *supervisor.Tree {
		b := next()
		t := &supervisor.Tree{Info: supervisor.Info{
			Path: path, Run: uint64(b), Strategy: strategy.Strategy(b % 5),
			Intensity: escalation.Intensity{MaxRestarts: int(b) - 3, Period: time.Duration(b) * time.Millisecond},
			InWindow:  int(b % 7), Ready: b&1 == 0, Stopping: b&2 == 0,
		}}
		for i := range int(next() % 5) {
			c := next()
			id := fmt.Sprintf("%s%d", names, i)
			if c%11 == 0 {
				id = names // duplicate IDs, as a fuzzer may make
			}
			ci := supervisor.ChildInfo{
				ID: id, Path: path + "/" + id, Kind: child.Kind(c % 3), Restart: child.Restart(c % 4),
				State: supervisor.ChildState(c % 6), Restarts: int(c), Abandoned: int(c % 3),
				LastExitRequested: c&4 != 0,
			}
			if c&8 != 0 {
				ci.Started = at.Add(time.Duration(c) * time.Second)
			}
			switch c % 5 {
			case 1:
				ci.LastExit = errors.New(names)
			case 2:
				ci.LastExit = child.Shutdownf("%s", names)
			case 3:
				ci.LastExit = &child.PanicError{Value: names}
			case 4:
				ci.LastExit = child.ErrGoexit
			}
			if c&16 != 0 {
				ci.LastExitAt = at
			}
			t.Children = append(t.Children, ci)
			if c&32 != 0 && depth < 4 {
				if t.Subtrees == nil {
					t.Subtrees = map[string]*supervisor.Tree{}
				}
				t.Subtrees[id] = build(ci.Path, depth+1)
			}
		}
		return t
	}
	return build(names, 0)
}

// A Document built from any tree marshals, and reads back to the same
// JSON: the tree page and programs see what the server meant.
func FuzzDocumentRoundTrip(f *testing.F) {
	f.Add([]byte{0, 3, 1, 2, 32 | 8 | 1, 7, 2, 40, 41}, "root", int64(1.7e18))
	f.Add([]byte{255, 4, 33, 34, 35, 36}, "a/b\"c", int64(0))
	f.Add([]byte{}, "\xff\xfe", int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, names string, now int64) {
		now %= 2e18 // within about 63 years of 1970: what a clock reads
		doc := treeview.NewDocument(fuzzTree(data, names, now), time.Unix(0, now))
		first, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back treeview.Document
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("Unmarshal of our own JSON: %v\n%s", err, first)
		}
		second, err := json.Marshal(&back)
		if err != nil {
			t.Fatalf("Marshal after the round trip: %v", err)
		}
		if !sameJSON(first, second) {
			t.Fatalf("round trip changed the document:\n%s\n%s", first, second)
		}
	})
}

// sameJSON compares two JSON texts by value: encoding/json writes an
// invalid UTF-8 byte as the escape \ufffd, and the character it reads back
// as itself.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// Any JSON a client may hold as a Document reads and writes back stably.
func FuzzDocumentJSON(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","root":{"name":"r","path":"r","kind":"supervisor","state":"running","ready":true,"restarts":0,"children":[{"name":"a","path":"r/a","kind":"worker","state":"stopped","ready":false,"restarts":2,"last_exit":{"at":"2026-01-01T00:00:00Z","kind":"panic","reason":"boom"}}]}}`))
	f.Add([]byte(`{"root":null}`))
	f.Add([]byte(`{"time":"0001-01-01T00:00:00Z","root":{"intensity":{"max_restarts":-1,"period":"","restarts_in_window":3}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d treeview.Document
		if json.Unmarshal(data, &d) != nil {
			return
		}
		first, err := json.Marshal(&d)
		if err != nil {
			return // a time outside what JSON holds, read with an offset
		}
		var back treeview.Document
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("Unmarshal of re-marshalled JSON: %v\n%s", err, first)
		}
		second, err := json.Marshal(&back)
		if err != nil || !sameJSON(first, second) {
			t.Fatalf("not stable (%v):\n%s\n%s", err, first, second)
		}
	})
}
